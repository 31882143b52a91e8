module example.org/csi/pkg

go 1.26

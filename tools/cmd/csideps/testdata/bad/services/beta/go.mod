module example.org/csi/services/beta

go 1.26

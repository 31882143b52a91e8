module example.org/csi/services/alpha

go 1.26

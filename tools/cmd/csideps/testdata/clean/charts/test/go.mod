module example.org/csi/charts/test

go 1.26

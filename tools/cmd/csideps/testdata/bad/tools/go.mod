module example.org/csi/tools

go 1.26

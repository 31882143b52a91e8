module github.com/csi-lombardia/csi/tools

go 1.26

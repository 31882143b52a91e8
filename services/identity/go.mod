module github.com/csi-lombardia/csi/services/identity

go 1.26

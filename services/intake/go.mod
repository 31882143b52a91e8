module github.com/csi-lombardia/csi/services/intake

go 1.26.7

require (
	github.com/csi-lombardia/csi/pkg v0.0.0
	github.com/google/go-cmp v0.7.0
)

replace github.com/csi-lombardia/csi/pkg => ../../pkg

module github.com/csi-lombardia/csi/tools

go 1.26.7

require (
	github.com/csi-lombardia/csi/pkg v0.0.0
	github.com/csi-lombardia/csi/services/identity v0.0.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/schollz/progressbar/v3 v3.19.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.44.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace (
	github.com/csi-lombardia/csi/pkg => ../pkg
	github.com/csi-lombardia/csi/services/identity => ../services/identity
)

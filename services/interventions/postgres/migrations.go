package postgres

import (
	"embed"

	"github.com/csi-lombardia/csi/pkg/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the interventions schema (goose files in migrations/, embedded in the binary).
var Migrations = pgdb.Embedded("interventions", migrationFiles, "migrations")

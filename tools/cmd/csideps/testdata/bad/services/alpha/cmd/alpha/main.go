package main

import (
	"example.org/csi/pkg/audit"
	"example.org/csi/services/alpha/postgres"
)

func main() { println(postgres.Kind, audit.Who) }

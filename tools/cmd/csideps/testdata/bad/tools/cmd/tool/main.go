package main

import (
	"example.org/csi/services/alpha/postgres"
	"example.org/csi/tools/internal/client"
)

func main() { println(client.Kind, postgres.Kind) }

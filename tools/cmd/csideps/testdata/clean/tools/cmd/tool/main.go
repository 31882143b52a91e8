package main

import "example.org/csi/tools/internal/client"

func main() { println(client.Kind) }

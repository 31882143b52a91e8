package main

import "example.org/csi/services/gamma"

func main() { println(gamma.Kind) }

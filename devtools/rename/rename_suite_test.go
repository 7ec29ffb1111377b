package main

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRename(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rename")
}

//go:build race

package main

// raceFlags builds the binary in TestBinary the way the test binary was
// built, so the build reuses the packages already compiled for the test
// instead of compiling everything a second time.
var raceFlags = []string{"-race"}

//go:build !linux

package main

// ioctlTerminal: elsewhere a character device is taken for a terminal.
func ioctlTerminal(uintptr) bool { return true }

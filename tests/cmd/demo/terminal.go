package main

import "os"

// isTerminal: f is a terminal (a character device that answers the
// terminal ioctl; /dev/null is a character device too).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	return ioctlTerminal(f.Fd())
}

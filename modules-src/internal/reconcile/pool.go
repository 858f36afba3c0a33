package reconcile

import (
	"fmt"
	"sync"
)

// forEach calls fn(i) for i in [0, n) on at most limit goroutines and
// returns fn's errors by index. A panic inside fn becomes that index's error:
// a panic in a goroutine would otherwise kill the module, and Ansible would
// get a Go stack trace instead of the result of every other user.
func forEach(n, limit int, fn func(i int) error) []error {
	errs := make([]error, n)
	if n == 0 {
		return errs
	}
	if limit < 1 {
		limit = 1
	}
	if limit > n {
		limit = n
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < limit; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = safeCall(i, fn)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

func safeCall(i int, fn func(int) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return fn(i)
}

package store

// SetMaxQueryBytes lowers the memory bound of one query for a test and
// returns a function that puts it back.
func SetMaxQueryBytes(n int) (restore func()) {
	old := maxQueryBytes
	maxQueryBytes = n
	return func() { maxQueryBytes = old }
}

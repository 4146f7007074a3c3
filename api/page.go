package api

// Page is a list response: {"items": [...]}, never null. Lists that may be long add a cursor
// (DevicePage, IDPage, InventoryPage).
type Page[T any] struct {
	Items []T `json:"items"`
}

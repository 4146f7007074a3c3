package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/operational"
)

func fromReleaseRequest(r api.ReleaseRequest) operational.ReleaseRequest {
	return operational.ReleaseRequest{Note: r.Note}
}

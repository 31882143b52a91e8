package interventions

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

type diaryRequest struct {
	ID    uuid.UUID
	Input DiaryInput
}

func decodeDiary(_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpapi.IDAndBody[DiaryInput](r, "id")
	if err != nil {
		return nil, err
	}
	return diaryRequest{ID: id, Input: body}, nil
}

// diaryRoles write and read an authorization's diary (each reads the levels diaryReader gives):
// the same as the documents'.
var diaryRoles = docRoles

func diaryEndpoints(e *Endpoints, s *Service) {
	e.AddDiaryEntry = guard(diaryRoles, func(ctx context.Context, req any) (any, error) {
		r := req.(diaryRequest)
		d, err := s.AddDiaryEntry(ctx, r.ID, r.Input)
		return httpapi.Created{Body: d, Location: "/v1/authorizations/" + r.ID.String() + "/diary"}, err
	})
	e.ListDiary = guard(diaryRoles, func(ctx context.Context, req any) (any, error) {
		r := req.(pageRequest)
		return s.ListDiary(ctx, r.ID, r.Limit, r.Cursor)
	})
}

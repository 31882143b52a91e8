package intake

import (
	"context"

	"github.com/google/uuid"
)

// CitizenSummary is what intake shows of a citizen of the registry service: enough to
// recognise the person on an access record or a case file. Intake keeps only the citizen's id;
// the rest is read from the registry when shown.
type CitizenSummary struct {
	ID             uuid.UUID `json:"id"`
	FiscalCode     string    `json:"fiscal_code,omitempty"`
	FamilyName     string    `json:"family_name"`
	GivenName      string    `json:"given_name"`
	Sex            string    `json:"sex"`
	BirthDate      string    `json:"birth_date"`
	ResidenceISTAT string    `json:"residence_istat,omitempty"`
	Status         string    `json:"status"`
}

// Registry is what intake needs of the registry service (implemented by registryhttp).
type Registry interface {
	Citizen(ctx context.Context, id uuid.UUID) (CitizenSummary, error)
}

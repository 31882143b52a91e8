package interventions

import (
	"context"
	_ "embed"
	"encoding/json"
	"slices"
)

// BenefitCode is a national benefit code (INPS) of a service type; Place, when set, says where
// the service is delivered for the code to apply (home, school).
type BenefitCode struct {
	Code  string `json:"code"`
	Place string `json:"place,omitempty"`
}

// ServiceType is a kind of intervention a cooperative is accredited for and a comune
// authorizes, with its national benefit codes (DOMAIN.md, "Service types").
type ServiceType struct {
	Code         string        `json:"code"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	BenefitCodes []BenefitCode `json:"benefit_codes"`
}

// ServiceTypeList is the answer of GET /v1/service-types.
type ServiceTypeList struct {
	Items []ServiceType `json:"items"`
}

//go:embed data/service-types.json
var serviceTypesJSON []byte

// serviceTypes is the reference data, read once; a broken file is a programming error.
var serviceTypes = func() []ServiceType {
	var list []ServiceType
	if err := json.Unmarshal(serviceTypesJSON, &list); err != nil {
		panic("interventions: data/service-types.json: " + err.Error())
	}
	return list
}()

// ServiceTypes returns the service types.
func ServiceTypes() []ServiceType { return slices.Clone(serviceTypes) }

// isServiceType reports whether code is a service type.
func isServiceType(code string) bool {
	return slices.ContainsFunc(serviceTypes, func(t ServiceType) bool { return t.Code == code })
}

// ListServiceTypes returns the reference data (no personal data: not audited).
func (s *Service) ListServiceTypes(ctx context.Context) (ServiceTypeList, error) {
	if _, err := s.scopeOf(ctx); err != nil {
		return ServiceTypeList{}, err
	}
	return ServiceTypeList{Items: ServiceTypes()}, nil
}

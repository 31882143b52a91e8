package httpapi_test

import (
	"testing"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// benchCitizen is shaped like the registry's citizen input: the typical body of a write.
type benchCitizen struct {
	FiscalCode string `json:"fiscal_code"`
	FamilyName string `json:"family_name"`
	GivenName  string `json:"given_name"`
	Sex        string `json:"sex"`
	BirthDate  string `json:"birth_date"`
	BirthPlace struct {
		Belfiore string `json:"belfiore_code"`
	} `json:"birth_place"`
	Residence struct {
		IstatCode  string `json:"istat_code"`
		Address    string `json:"address"`
		PostalCode string `json:"postal_code"`
	} `json:"residence"`
	Phone   string `json:"phone"`
	Email   string `json:"email"`
	Privacy struct {
		Consents []struct {
			Purpose string `json:"purpose"`
			Given   bool   `json:"given"`
		} `json:"consents"`
	} `json:"privacy"`
}

// benchBody is a typical request body (a citizen to create, about 500 bytes).
var benchBody = []byte(`{"fiscal_code":"RSSMRA80A01F205X","family_name":"Rossi","given_name":"Mario",` +
	`"sex":"M","birth_date":"1980-01-01","birth_place":{"belfiore_code":"F205"},` +
	`"residence":{"istat_code":"015146","address":"Via Roma 1","postal_code":"20121"},` +
	`"phone":"+39 02 1234567","email":"mario.rossi@example.org",` +
	`"privacy":{"consents":[{"purpose":"care","given":true},{"purpose":"research","given":false},` +
	`{"purpose":"contact","given":true}]}}`)

// BenchmarkUnmarshal measures the strict decoder on a typical body: it sits on every request.
func BenchmarkUnmarshal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		var v benchCitizen
		if err := httpapi.Unmarshal(benchBody, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalLargeObject: an object of many members stays linear.
func BenchmarkUnmarshalLargeObject(b *testing.B) {
	body := []byte(manyLabels(5000, `"last":"v"`))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var v household
		if err := httpapi.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

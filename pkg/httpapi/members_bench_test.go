package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func BenchmarkCheckMembers(b *testing.B) {
	body := []byte(`{"fiscal_code":"RSSMRA80A01F205X","family_name":"Rossi","given_name":"Mario","sex":"M","birth_date":"1980-01-01","birth_place":{"belfiore_code":"F205"},"residence":{"istat_code":"015146","address":"Via Roma 1","postal_code":"20121"},"phone":"+39 02 1234567","email":"mario.rossi@example.org","privacy":{"consents":[{"purpose":"care","given":true},{"purpose":"research","given":false},{"purpose":"contact","given":true}]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := checkMembers(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckMembersLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 5000 {
		sb.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)) + `":1,`)
	}
	sb.WriteString(`"last":1}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if err := checkMembers(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONValid(b *testing.B) {
	body := []byte(`{"fiscal_code":"RSSMRA80A01F205X","family_name":"Rossi","given_name":"Mario","sex":"M","birth_date":"1980-01-01","birth_place":{"belfiore_code":"F205"},"residence":{"istat_code":"015146","address":"Via Roma 1","postal_code":"20121"},"phone":"+39 02 1234567","email":"mario.rossi@example.org","privacy":{"consents":[{"purpose":"care","given":true},{"purpose":"research","given":false},{"purpose":"contact","given":true}]}}`)
	for b.Loop() {
		json.Valid(body)
	}
}

package interventions

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/xuri/excelize/v2"
)

// The exports of a statement: CSV and XLSX for the comune's accounting, a printable PDF. Each
// holds the same figures as the JSON (the caller's part of it): one row per line, then the
// totals by service type and the grand total.

// csvHeader is the header row of the CSV export. kind is line, service_type or total; the
// money columns are integer euro cents, the time columns whole minutes.
var csvHeader = []string{"kind", "cooperative_id", "month", "status", "authorization_id", "case_id", "citizen_id", "istat_code",
	"service_type", "inps_code", "hourly_tariff_cents", "authorized_minutes", "delivered_minutes", "missed_visits",
	"excess_minutes", "payable_minutes", "amount_cents", "excess_amount_cents"}

func fileName(st Statement, ext string) string {
	return "rendiconto-" + st.CooperativeID.String() + "-" + st.Month + "." + ext
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func statementCSV(st Statement) (File, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{st.CooperativeID.String(), st.Month, string(st.Status)}
	rows := [][]string{csvHeader}
	for _, l := range st.Lines {
		rows = append(rows, append(append([]string{"line"}, head...), l.AuthorizationID.String(), l.CaseID.String(), l.CitizenID.String(),
			l.ISTATCode, l.ServiceType, l.INPSCode, i64(l.HourlyTariffCents), i64(l.AuthorizedMinutes), i64(l.DeliveredMinutes),
			i64(l.MissedVisits), i64(l.ExcessMinutes), i64(l.PayableMinutes), i64(l.AmountCents), i64(l.ExcessAmountCents)))
	}
	for _, t := range st.ByServiceType {
		rows = append(rows, append(append([]string{"service_type"}, head...), "", "", "", "", t.ServiceType, t.INPSCode, "",
			i64(t.AuthorizedMinutes), i64(t.DeliveredMinutes), i64(t.MissedVisits), i64(t.ExcessMinutes), i64(t.PayableMinutes),
			i64(t.AmountCents), i64(t.ExcessAmountCents)))
	}
	var tot ServiceTypeTotal
	for _, t := range st.ByServiceType {
		tot.AuthorizedMinutes += t.AuthorizedMinutes
		tot.DeliveredMinutes += t.DeliveredMinutes
		tot.MissedVisits += t.MissedVisits
		tot.ExcessMinutes += t.ExcessMinutes
		tot.PayableMinutes += t.PayableMinutes
	}
	rows = append(rows, append(append([]string{"total"}, head...), "", "", "", "", "", "", "", i64(tot.AuthorizedMinutes),
		i64(tot.DeliveredMinutes), i64(tot.MissedVisits), i64(tot.ExcessMinutes), i64(tot.PayableMinutes), i64(st.TotalAmount), i64(st.TotalExcess)))
	if err := w.WriteAll(rows); err != nil {
		return File{}, err
	}
	return File{Name: fileName(st, "csv"), ContentType: "text/csv; charset=utf-8", Body: b.Bytes()}, nil
}

// XLSXSheet is the sheet of the XLSX export; its table starts at row XLSXFirstRow (the header),
// with the columns of XLSXColumns; money cells are numbers in euro (formatted € #,##0.00),
// minutes numbers.
const (
	XLSXSheet    = "Rendiconto"
	XLSXFirstRow = 6
)

// XLSXColumns are the columns of the XLSX table.
var XLSXColumns = []string{"Riga", "Autorizzazione", "Cittadino", "Comune (ISTAT)", "Servizio", "Codice INPS", "Tariffa oraria",
	"Minuti autorizzati", "Minuti erogati", "Visite mancate", "Minuti in eccesso", "Minuti pagabili", "Importo", "Importo eccesso"}

func statementXLSX(st Statement) (File, error) {
	x := excelize.NewFile()
	defer func() { _ = x.Close() }()
	if err := x.SetSheetName("Sheet1", XLSXSheet); err != nil {
		return File{}, err
	}
	fmtEuro := `"€" #,##0.00`
	euro, err := x.NewStyle(&excelize.Style{CustomNumFmt: &fmtEuro})
	if err != nil {
		return File{}, err
	}
	bold, err := x.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return File{}, err
	}
	set := func(col, row int, v any) error {
		cell, err := excelize.CoordinatesToCellName(col, row)
		if err != nil {
			return err
		}
		return x.SetCellValue(XLSXSheet, cell, v)
	}
	money := func(cents int64) float64 { return float64(cents) / 100 }
	head := [][2]any{{"Rendiconto mensile", ""}, {"Cooperativa", st.CooperativeID.String()}, {"Mese", st.Month}, {"Stato", string(st.Status)}}
	for i, h := range head {
		if err := set(1, i+1, h[0]); err != nil {
			return File{}, err
		}
		if err := set(2, i+1, h[1]); err != nil {
			return File{}, err
		}
	}
	for i, c := range XLSXColumns {
		if err := set(i+1, XLSXFirstRow, c); err != nil {
			return File{}, err
		}
	}
	row := XLSXFirstRow + 1
	put := func(kind, auth, citizen, istat, svc, inps string, tariff *int64, t ServiceTypeTotal) error {
		vals := []any{kind, auth, citizen, istat, svc, inps, nil, t.AuthorizedMinutes, t.DeliveredMinutes, t.MissedVisits,
			t.ExcessMinutes, t.PayableMinutes, money(t.AmountCents), money(t.ExcessAmountCents)}
		if tariff != nil {
			vals[6] = money(*tariff)
		}
		for i, v := range vals {
			if v == nil {
				continue
			}
			if err := set(i+1, row, v); err != nil {
				return err
			}
		}
		row++
		return nil
	}
	for _, l := range st.Lines {
		tariff := l.HourlyTariffCents
		if err := put("line", l.AuthorizationID.String(), l.CitizenID.String(), l.ISTATCode, l.ServiceType, l.INPSCode, &tariff,
			ServiceTypeTotal{AuthorizedMinutes: l.AuthorizedMinutes, DeliveredMinutes: l.DeliveredMinutes, MissedVisits: l.MissedVisits,
				ExcessMinutes: l.ExcessMinutes, PayableMinutes: l.PayableMinutes, AmountCents: l.AmountCents, ExcessAmountCents: l.ExcessAmountCents}); err != nil {
			return File{}, err
		}
	}
	var tot ServiceTypeTotal
	for _, t := range st.ByServiceType {
		if err := put("service_type", "", "", "", t.ServiceType, t.INPSCode, nil, t); err != nil {
			return File{}, err
		}
		tot.AuthorizedMinutes += t.AuthorizedMinutes
		tot.DeliveredMinutes += t.DeliveredMinutes
		tot.MissedVisits += t.MissedVisits
		tot.ExcessMinutes += t.ExcessMinutes
		tot.PayableMinutes += t.PayableMinutes
	}
	tot.AmountCents, tot.ExcessAmountCents = st.TotalAmount, st.TotalExcess
	if err := put("total", "", "", "", "", "", nil, tot); err != nil {
		return File{}, err
	}
	last := row - 1
	if err := x.SetCellStyle(XLSXSheet, "G"+strconv.Itoa(XLSXFirstRow+1), "G"+strconv.Itoa(last), euro); err != nil {
		return File{}, err
	}
	if err := x.SetCellStyle(XLSXSheet, "M"+strconv.Itoa(XLSXFirstRow+1), "N"+strconv.Itoa(last), euro); err != nil {
		return File{}, err
	}
	if err := x.SetCellStyle(XLSXSheet, "A"+strconv.Itoa(XLSXFirstRow), "N"+strconv.Itoa(XLSXFirstRow), bold); err != nil {
		return File{}, err
	}
	_ = x.SetColWidth(XLSXSheet, "B", "C", 38)
	b, err := x.WriteToBuffer()
	if err != nil {
		return File{}, err
	}
	return File{Name: fileName(st, "xlsx"), ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Body: b.Bytes()}, nil
}

// euroText formats cents as Italian euro: 1.234,56.
func euroText(cents int64) string {
	s := i64(cents / 100)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	return fmt.Sprintf("%s,%02d", b.String(), cents%100)
}

func hoursText(minutes int64) string { return fmt.Sprintf("%d:%02d", minutes/60, minutes%60) }

var pdfStatus = map[StatementStatus]string{StatementOpen: "aperto", StatementSubmitted: "inviato", StatementReturned: "restituito",
	StatementApproved: "approvato"}

func statementPDF(st Statement) (File, error) {
	p := fpdf.New("L", "mm", "A4", "")
	p.SetCompression(false) // the text stays readable in the file (the tests read it)
	p.SetTitle("Rendiconto "+st.Month, false)
	p.SetCreator("CSI interventions", false)
	p.AddPage()
	p.SetFont("Helvetica", "B", 14)
	p.CellFormat(0, 8, "Rendiconto mensile "+st.Month, "", 1, "L", false, 0, "")
	p.SetFont("Helvetica", "", 9)
	p.CellFormat(0, 5, "Cooperativa: "+st.CooperativeID.String(), "", 1, "L", false, 0, "")
	p.CellFormat(0, 5, "Stato: "+pdfStatus[st.Status]+"   Versione: "+i64(st.Version), "", 1, "L", false, 0, "")
	p.Ln(3)
	cols := []struct {
		title string
		w     float64
	}{{"Autorizzazione", 62}, {"Comune", 16}, {"Servizio", 16}, {"INPS", 14}, {"Tariffa/h", 18}, {"Ore aut.", 18}, {"Ore erog.", 18},
		{"Mancate", 15}, {"Ore ecc.", 16}, {"Ore pag.", 16}, {"Importo EUR", 26}, {"Eccesso EUR", 24}}
	p.SetFont("Helvetica", "B", 8)
	for _, c := range cols {
		p.CellFormat(c.w, 6, c.title, "1", 0, "C", false, 0, "")
	}
	p.Ln(-1)
	row := func(bold bool, vals ...string) {
		style := ""
		if bold {
			style = "B"
		}
		p.SetFont("Helvetica", style, 8)
		for i, c := range cols {
			align := "R"
			if i < 4 {
				align = "L"
			}
			p.CellFormat(c.w, 5, vals[i], "1", 0, align, false, 0, "")
		}
		p.Ln(-1)
	}
	for _, l := range st.Lines {
		row(false, l.AuthorizationID.String(), l.ISTATCode, l.ServiceType, l.INPSCode, euroText(l.HourlyTariffCents),
			hoursText(l.AuthorizedMinutes), hoursText(l.DeliveredMinutes), i64(l.MissedVisits), hoursText(l.ExcessMinutes),
			hoursText(l.PayableMinutes), euroText(l.AmountCents), euroText(l.ExcessAmountCents))
	}
	for _, t := range st.ByServiceType {
		row(true, "Totale "+t.ServiceType, "", t.ServiceType, t.INPSCode, "", hoursText(t.AuthorizedMinutes), hoursText(t.DeliveredMinutes),
			i64(t.MissedVisits), hoursText(t.ExcessMinutes), hoursText(t.PayableMinutes), euroText(t.AmountCents), euroText(t.ExcessAmountCents))
	}
	p.Ln(2)
	p.SetFont("Helvetica", "B", 10)
	p.CellFormat(0, 6, "Totale dovuto: EUR "+euroText(st.TotalAmount)+"   (eccesso, non compreso: EUR "+euroText(st.TotalExcess)+")", "", 1, "L", false, 0, "")
	p.SetFont("Helvetica", "", 9)
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	if st.SubmittedBy != nil {
		p.CellFormat(0, 5, "Inviato da "+st.SubmittedBy.ID+" ("+st.SubmittedBy.Role+") il "+when(st.SubmittedAt), "", 1, "L", false, 0, "")
	}
	if st.ApprovedBy != nil {
		p.CellFormat(0, 5, "Approvato da "+st.ApprovedBy.ID+" ("+st.ApprovedBy.Role+") il "+when(st.ApprovedAt), "", 1, "L", false, 0, "")
	} else {
		p.CellFormat(0, 5, "Non approvato", "", 1, "L", false, 0, "")
	}
	tr := p.UnicodeTranslatorFromDescriptor("")
	for _, n := range st.Notes {
		p.MultiCell(0, 5, tr("Nota di "+n.By.ID+" il "+when(&n.At)+": "+n.Text), "", "L", false)
	}
	var b bytes.Buffer
	if err := p.Output(&b); err != nil {
		return File{}, err
	}
	return File{Name: fileName(st, "pdf"), ContentType: "application/pdf", Body: b.Bytes()}, nil
}

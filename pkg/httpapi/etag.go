package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

// ETag formats a version number as a strong entity tag.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// IfMatch reads the version an update expects from If-Match. A missing header is a 428: two
// operators must never overwrite each other silently. A malformed one is a 400.
func IfMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, &errs.Error{Kind: errs.PreconditionRequired, Message: "send If-Match with the ETag of the version you read",
			Fields: []errs.FieldError{{Field: "If-Match", Message: "required"}}}
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, errs.InvalidField("If-Match", "is not an ETag of this resource")
	}
	return v, nil
}

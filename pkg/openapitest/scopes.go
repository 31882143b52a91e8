package openapitest

import (
	"slices"
	"strings"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// DeclaredScopes lists, sorted, the scopes of the document's oauth2 security schemes (every
// flow): the scopes of machine clients the service requires somewhere. Each service declares
// them in its document (a clientCredentials scheme), so that a test reading every document can
// check each one against the scopes identity can grant.
func (c *Contract) DeclaredScopes() []string {
	var out []string
	if c.model.Components == nil || c.model.Components.SecuritySchemes == nil {
		return nil
	}
	for _, s := range c.model.Components.SecuritySchemes.FromOldest() {
		if s == nil || s.Type != "oauth2" || s.Flows == nil {
			continue
		}
		for _, f := range []*v3.OAuthFlow{s.Flows.ClientCredentials, s.Flows.Implicit, s.Flows.Password, s.Flows.AuthorizationCode} {
			if f == nil || f.Scopes == nil {
				continue
			}
			for scope := range f.Scopes.KeysFromOldest() {
				out = append(out, scope)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Scopes lists, sorted, the scopes op's security requirements name for the document's oauth2
// schemes: a machine client holding any one of them may call op. None when no client may.
func (c *Contract) Scopes(op Operation) []string {
	o, _ := c.opModel(op)
	if o == nil {
		return nil
	}
	sec := o.Security
	if sec == nil {
		sec = c.model.Security
	}
	oauth2 := map[string]bool{}
	if c.model.Components != nil && c.model.Components.SecuritySchemes != nil {
		for name, s := range c.model.Components.SecuritySchemes.FromOldest() {
			oauth2[name] = s != nil && strings.EqualFold(s.Type, "oauth2")
		}
	}
	var out []string
	for _, req := range sec {
		if req == nil || req.Requirements == nil {
			continue
		}
		for name, scopes := range req.Requirements.FromOldest() {
			if oauth2[name] {
				out = append(out, scopes...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Enum returns the values of the enum of the document's schema components/schemas/name, as
// strings; nil when there is no such schema or it has no enum.
func (c *Contract) Enum(name string) []string {
	if c.model.Components == nil || c.model.Components.Schemas == nil {
		return nil
	}
	proxy, ok := c.model.Components.Schemas.Get(name)
	if !ok || proxy == nil {
		return nil
	}
	s := proxy.Schema()
	if s == nil {
		return nil
	}
	var out []string
	for _, n := range s.Enum {
		if n != nil {
			out = append(out, n.Value)
		}
	}
	return out
}

package intake

import (
	"context"
	"strconv"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// maxTaxonomyVersion bounds the versions an ambito makes (and a version asked for).
const maxTaxonomyVersion = 10_000

// GetTaxonomy returns a version of the caller's ambito's needs taxonomy; 0 is the latest.
func (s *Service) GetTaxonomy(ctx context.Context, version int) (Taxonomy, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Taxonomy{}, err
	}
	if version < 0 || version > maxTaxonomyVersion {
		return Taxonomy{}, errs.InvalidField("version", "must be from 1 to %d", maxTaxonomyVersion)
	}
	return s.taxonomy(ctx, sc.ambitoID, version)
}

func summarize(t Taxonomy) TaxonomyVersion {
	v := TaxonomyVersion{Version: t.Version, Base: t.Version == 1, Areas: len(t.Areas)}
	for _, a := range t.Areas {
		v.Needs += len(a.Needs)
	}
	return v
}

// TaxonomyVersions lists the versions of the caller's ambito's taxonomy: the base version 1
// that ships with the service, then the ambito's own, ascending.
func (s *Service) TaxonomyVersions(ctx context.Context) (cursor.Page[TaxonomyVersion], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[TaxonomyVersion]{}, err
	}
	own, err := s.store.TaxonomyVersions(ctx, sc.ambitoID)
	if err != nil {
		return cursor.Page[TaxonomyVersion]{}, err
	}
	return cursor.Page[TaxonomyVersion]{Items: append([]TaxonomyVersion{summarize(BaseTaxonomy())}, own...)}, nil
}

// CreateTaxonomyVersion makes the next version of the caller's ambito's taxonomy: the latest
// plus the areas and needs of ext (the ambito administrator). Two administrators adding at once
// get one version each, or a 409 to retry.
func (s *Service) CreateTaxonomyVersion(ctx context.Context, ext TaxonomyExtension) (Taxonomy, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Taxonomy{}, err
	}
	latest, err := s.taxonomy(ctx, sc.ambitoID, 0)
	if err != nil {
		return Taxonomy{}, err
	}
	if latest.Version >= maxTaxonomyVersion {
		return Taxonomy{}, errs.E(errs.FailedPrecondition, "the ambito has made %d versions of the taxonomy, the most it may", maxTaxonomyVersion)
	}
	next, err := latest.Extend(ext.Areas)
	if err != nil {
		return Taxonomy{}, err
	}
	if err := s.store.CreateTaxonomy(ctx, sc.ambitoID, next, sc.me()); err != nil {
		if errs.Is(err, errs.Conflict) {
			return Taxonomy{}, errs.E(errs.Conflict, "another version %d was made meanwhile: read the latest version and retry", next.Version)
		}
		return Taxonomy{}, err
	}
	return next, s.record(ctx, audit.By(sc.claims, "needs_taxonomy.create", "needs_taxonomy", strconv.Itoa(next.Version)))
}

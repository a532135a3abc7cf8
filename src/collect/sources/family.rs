//! A metric family of an opt-in source: its catalog row, declared beside the code that fills
//! it, with its label keys typed by their number.

/// One family of series of an opt-in source, with its `N` label keys (besides `site`) in the
/// order the values are given. Declared as a `static` in the source's module; the catalog
/// lists it through [`OptInSource::FAMILIES`](super::OptInSource::FAMILIES).
#[derive(Debug)]
pub struct Family<const N: usize> {
    /// OpenTelemetry instrument name; the Prometheus name is this with `.` turned into `_`.
    pub name: &'static str,
    /// UCUM unit (empty for an info series).
    pub unit: &'static str,
    /// The label keys, in order.
    pub labels: [&'static str; N],
    /// What it means, for `docs/metrics.md`.
    pub description: &'static str,
    /// Values are floating point (else unsigned integers).
    pub float: bool,
    /// Part of the legacy `nbu_exporter` contract.
    pub legacy: bool,
}

impl<const N: usize> Family<N> {
    /// A gauge of integer values, part of the legacy `nbu_exporter` contract.
    pub const fn gauge(
        name: &'static str,
        unit: &'static str,
        labels: [&'static str; N],
        description: &'static str,
    ) -> Self {
        Self {
            name,
            unit,
            labels,
            description,
            float: false,
            legacy: true,
        }
    }

    /// The same family with floating-point values.
    pub const fn floating(self) -> Self {
        Self {
            float: true,
            ..self
        }
    }

    /// The same family, new in nbu-otel (not in the legacy contract).
    pub const fn beyond_legacy(self) -> Self {
        Self {
            legacy: false,
            ..self
        }
    }

    /// The family as the catalog lists it, its label count erased.
    pub const fn row(&'static self) -> FamilyRow {
        FamilyRow {
            name: self.name,
            unit: self.unit,
            labels: &self.labels,
            description: self.description,
            float: self.float,
            legacy: self.legacy,
        }
    }
}

/// A [`Family`] as the catalog lists it.
#[derive(Debug, Clone, Copy)]
pub struct FamilyRow {
    /// OpenTelemetry instrument name.
    pub name: &'static str,
    /// UCUM unit.
    pub unit: &'static str,
    /// The label keys besides `site`, in order.
    pub labels: &'static [&'static str],
    /// What it means.
    pub description: &'static str,
    /// Values are floating point.
    pub float: bool,
    /// Part of the legacy contract.
    pub legacy: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_row_keeps_its_name_unit_labels_and_kind() {
        static BYTES: Family<2> = Family::gauge("nbu.x_bytes", "By", ["a", "b"], "X.")
            .floating()
            .beyond_legacy();
        let row = BYTES.row();
        assert_eq!(
            (row.name, row.unit, row.labels, row.description),
            ("nbu.x_bytes", "By", &["a", "b"][..], "X.")
        );
        assert!(row.float && !row.legacy);
        let plain = Family::gauge("nbu.y", "", [], "Y.");
        assert!(!plain.float && plain.legacy);
    }
}

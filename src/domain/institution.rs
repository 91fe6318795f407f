//! Institutions: their kinds and statuses, and who must report (domain.md §3).

use serde::{Deserialize, Serialize};

/// 種別 as the regional bureau lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Category {
    Hospital,
    Clinic,
    Dental,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Hospital, Category::Clinic, Category::Dental];

    pub fn code(self) -> &'static str {
        match self {
            Category::Hospital => "hospital",
            Category::Clinic => "clinic",
            Category::Dental => "dental",
        }
    }

    pub fn from_code(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Hospital => "病院",
            Category::Clinic => "診療所",
            Category::Dental => "歯科",
        }
    }
}

/// 現存 / 休止 / 廃止.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Active,
    Suspended,
    Abolished,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Active, Status::Suspended, Status::Abolished];

    pub fn code(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Abolished => "abolished",
        }
    }

    pub fn from_code(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "現存",
            Status::Suspended => "休止",
            Status::Abolished => "廃止",
        }
    }
}

/// The facts that decide whether an institution must file the report.
#[derive(Debug, Clone, Copy)]
pub struct TargetFacts {
    pub category: Category,
    pub is_special_function: bool,
    pub is_correctional: bool,
    pub status: Status,
}

/// Why an institution is not a reporting target; `None` means it must report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    Dental,
    SpecialFunction,
    NotActive,
    Correctional,
}

impl Exclusion {
    pub fn label(self) -> &'static str {
        match self {
            Exclusion::Dental => "歯科医療機関",
            Exclusion::SpecialFunction => "特定機能病院",
            Exclusion::NotActive => "休止・廃止",
            Exclusion::Correctional => "刑事施設等の医療機関",
        }
    }
}

/// The rule of domain.md §3: hospitals and clinics report, except 特定機能病院, dental
/// institutions, those not active on the reference date, and those inside prisons and
/// similar facilities.
pub fn exclusion(facts: TargetFacts) -> Option<Exclusion> {
    if facts.category == Category::Dental {
        Some(Exclusion::Dental)
    } else if facts.is_special_function {
        Some(Exclusion::SpecialFunction)
    } else if facts.status != Status::Active {
        Some(Exclusion::NotActive)
    } else if facts.is_correctional {
        Some(Exclusion::Correctional)
    } else {
        None
    }
}

/// The stored flag: the rule, unless an officer overrode it (with a reason, elsewhere).
pub fn is_reporting_target(facts: TargetFacts, manual_override: Option<bool>) -> bool {
    manual_override.unwrap_or_else(|| exclusion(facts).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(category: Category, special: bool, correctional: bool, status: Status) -> TargetFacts {
        TargetFacts {
            category,
            is_special_function: special,
            is_correctional: correctional,
            status,
        }
    }

    #[test]
    fn target_rule_table() {
        use Category::*;
        use Status::*;
        let cases = [
            (facts(Clinic, false, false, Active), None),
            (facts(Hospital, false, false, Active), None),
            (facts(Dental, false, false, Active), Some(Exclusion::Dental)),
            (
                facts(Hospital, true, false, Active),
                Some(Exclusion::SpecialFunction),
            ),
            (
                facts(Clinic, false, false, Suspended),
                Some(Exclusion::NotActive),
            ),
            (
                facts(Clinic, false, false, Abolished),
                Some(Exclusion::NotActive),
            ),
            (
                facts(Clinic, false, true, Active),
                Some(Exclusion::Correctional),
            ),
        ];
        for (f, expected) in cases {
            assert_eq!(exclusion(f), expected, "{f:?}");
            assert_eq!(is_reporting_target(f, None), expected.is_none());
        }
    }

    #[test]
    fn override_wins_both_ways() {
        let dental = facts(Category::Dental, false, false, Status::Active);
        assert!(is_reporting_target(dental, Some(true)));
        let clinic = facts(Category::Clinic, false, false, Status::Active);
        assert!(!is_reporting_target(clinic, Some(false)));
    }

    #[test]
    fn codes_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(c));
        }
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
        }
    }
}

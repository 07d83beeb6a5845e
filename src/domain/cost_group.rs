//! A business unit of a tenant that license costs are allocated to.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::error::clip;
use super::ids::{CostGroupId, TenantId};

/// One cost group; groups form a tree per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGroup {
    /// The group.
    pub id: CostGroupId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The parent group, `None` at the top.
    pub parent_id: Option<CostGroupId>,
    /// Display name, unique among siblings.
    pub name: String,
    /// Optional short code, unique in the tenant (e.g. a cost centre number).
    pub code: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest code, in characters.
pub const MAX_CODE_CHARS: usize = 32;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Deepest level of the tree; a root is at depth 1.
pub const MAX_DEPTH: usize = 8;

/// A cost group value or change that breaks the rules of cost groups.
///
/// The first three variants are bad values of one field; the others are collisions with the
/// rest of the tenant's tree.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CostGroupError {
    /// A name that is empty or too long after trimming.
    #[error("name must be 1 to {MAX_NAME_CHARS} characters, got {got}")]
    InvalidName {
        /// Its length in characters, after trimming.
        got: usize,
    },
    /// A name holding a control character (a line break, tab, NUL, …).
    #[error("name must not contain control characters, got U+{code:04X} at character {at}")]
    ControlCharacterInName {
        /// The first control character's code point.
        code: u32,
        /// Its position in the trimmed name, from 1.
        at: usize,
    },
    /// A code that is empty, too long, or has characters outside `[A-Za-z0-9_.-]`.
    #[error(
        "code must be 1 to {MAX_CODE_CHARS} characters of A-Z, a-z, 0-9, '_', '.' or '-', got {got:?}"
    )]
    InvalidCode {
        /// The rejected code, shortened.
        got: String,
    },
    /// A description that is too long.
    #[error("description must be at most {MAX_DESCRIPTION_CHARS} characters, got {got}")]
    InvalidDescription {
        /// Its length in characters, after trimming.
        got: usize,
    },
    /// Another group with the same parent has the same name (ignoring case).
    #[error(
        "a sibling cost group is already named {name:?} (names are unique among siblings, ignoring case)"
    )]
    DuplicateSiblingName {
        /// The clashing name.
        name: String,
    },
    /// Another group of the tenant has the same code (ignoring case).
    #[error("another cost group of the tenant already has code {code:?}")]
    DuplicateCode {
        /// The clashing code.
        code: String,
    },
    /// A group would be its own ancestor.
    #[error("cost group {name:?} would be under itself or one of its descendants")]
    Cycle {
        /// A group on the cycle.
        name: String,
    },
    /// A group would sit deeper than [`MAX_DEPTH`].
    #[error("cost group {name:?} would be at depth {depth}, the tree is at most {MAX_DEPTH} deep")]
    TooDeep {
        /// The group too deep.
        name: String,
        /// Its depth (a root is 1).
        depth: usize,
    },
    /// A group still has children, members or rules and no group to move them to was named.
    #[error(
        "cost group {name:?} is in use ({children} child group(s), {members} member(s), {rules} allocation rule(s)); move or remove them first, or name a group to reassign them to with reassignTo"
    )]
    InUse {
        /// The group to delete.
        name: String,
        /// How many children it has.
        children: usize,
        /// Users placed in it by the stored evaluation or by an override.
        members: usize,
        /// Rules targeting it.
        rules: usize,
    },
    /// A group can't take over its own children when it is deleted.
    #[error("cost group {name:?} can't be reassigned to itself")]
    ReassignToSelf {
        /// The group to delete.
        name: String,
    },
}

/// Trims a name and checks it is 1 to [`MAX_NAME_CHARS`] characters, none of them a control
/// character (names are shown on one line, in reports and CSV files).
pub fn parse_name(raw: &str) -> Result<String, CostGroupError> {
    let name = raw.trim();
    let got = name.chars().count();
    if got == 0 || got > MAX_NAME_CHARS {
        return Err(CostGroupError::InvalidName { got });
    }
    if let Some((i, c)) = name.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(CostGroupError::ControlCharacterInName {
            code: u32::from(c),
            at: i + 1,
        });
    }
    Ok(name.to_owned())
}

/// Trims a code and checks it is 1 to [`MAX_CODE_CHARS`] characters of `[A-Za-z0-9_.-]`.
pub fn parse_code(raw: &str) -> Result<String, CostGroupError> {
    let code = raw.trim();
    let len = code.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if len == 0 || len > MAX_CODE_CHARS || !code.chars().all(allowed) {
        return Err(CostGroupError::InvalidCode { got: clip(code) });
    }
    Ok(code.to_owned())
}

/// Trims a description and checks it is at most [`MAX_DESCRIPTION_CHARS`] characters; an empty
/// description is no description.
pub fn parse_description(raw: &str) -> Result<Option<String>, CostGroupError> {
    let description = raw.trim();
    let got = description.chars().count();
    if got > MAX_DESCRIPTION_CHARS {
        return Err(CostGroupError::InvalidDescription { got });
    }
    Ok((got > 0).then(|| description.to_owned()))
}

/// Checks the tree rules over every cost group of one tenant, as they would be after a change:
/// no cycles, depth at most [`MAX_DEPTH`], names unique among siblings and codes unique in the
/// tenant (both ignoring case).
///
/// Errors name the first offending group in slice order, so callers put the groups they changed
/// first. A parent id not in `groups` counts as no parent; callers check parents exist.
pub fn check_tree(groups: &[CostGroup]) -> Result<(), CostGroupError> {
    let by_id: HashMap<CostGroupId, &CostGroup> = groups.iter().map(|g| (g.id, g)).collect();
    for group in groups {
        let mut seen = HashSet::from([group.id]);
        let mut depth = 1;
        let mut parent = group.parent_id.and_then(|p| by_id.get(&p));
        while let Some(p) = parent {
            if !seen.insert(p.id) {
                return Err(CostGroupError::Cycle {
                    name: group.name.clone(),
                });
            }
            depth += 1;
            parent = p.parent_id.and_then(|pp| by_id.get(&pp));
        }
        if depth > MAX_DEPTH {
            return Err(CostGroupError::TooDeep {
                name: group.name.clone(),
                depth,
            });
        }
    }
    let mut names = HashSet::new();
    let mut codes = HashSet::new();
    // Backwards, so that of two clashing groups the one earlier in the slice is named.
    for group in groups.iter().rev() {
        if !names.insert((group.parent_id, group.name.to_lowercase())) {
            return Err(CostGroupError::DuplicateSiblingName {
                name: group.name.clone(),
            });
        }
        if let Some(code) = &group.code
            && !codes.insert(code.to_lowercase())
        {
            return Err(CostGroupError::DuplicateCode { code: code.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn group(n: u128, parent: Option<u128>, name: &str, code: Option<&str>) -> CostGroup {
        CostGroup {
            id: CostGroupId(Uuid::from_u128(n)),
            tenant_id: TenantId(Uuid::from_u128(1000)),
            parent_id: parent.map(|p| CostGroupId(Uuid::from_u128(p))),
            name: name.to_owned(),
            code: code.map(str::to_owned),
            description: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn chain(len: u128) -> Vec<CostGroup> {
        (1..=len)
            .map(|n| group(n, (n > 1).then(|| n - 1), &format!("g{n}"), None))
            .collect()
    }

    #[test]
    fn names_are_trimmed_and_limited_to_100_characters() {
        assert_eq!(parse_name("  Sales ").unwrap(), "Sales");
        assert_eq!(
            parse_name("   ").unwrap_err().to_string(),
            "name must be 1 to 100 characters, got 0"
        );
        assert!(parse_name(&"é".repeat(100)).is_ok());
        assert_eq!(
            parse_name(&"a".repeat(101)).unwrap_err(),
            CostGroupError::InvalidName { got: 101 }
        );
    }

    #[test]
    fn names_with_control_characters_are_refused_naming_the_first() {
        assert_eq!(
            parse_name("Sales\u{0}EMEA").unwrap_err(),
            CostGroupError::ControlCharacterInName { code: 0, at: 6 }
        );
        assert_eq!(
            parse_name("Sales\nEMEA").unwrap_err().to_string(),
            "name must not contain control characters, got U+000A at character 6"
        );
        assert_eq!(parse_name("Vertrieb Süd").unwrap(), "Vertrieb Süd");
    }

    #[test]
    fn codes_allow_letters_digits_and_three_marks_up_to_32() {
        assert_eq!(parse_code(" CC-01_a.b ").unwrap(), "CC-01_a.b");
        assert!(parse_code(&"x".repeat(32)).is_ok());
        assert!(parse_code(&"x".repeat(33)).is_err());
        assert!(parse_code("").is_err());
        let err = parse_code("cc 01").unwrap_err().to_string();
        assert!(err.starts_with("code must be 1 to 32 characters"), "{err}");
        assert!(err.contains("\"cc 01\""), "{err}");
    }

    #[test]
    fn descriptions_are_at_most_1000_characters_and_empty_means_none() {
        assert_eq!(parse_description("  ").unwrap(), None);
        assert_eq!(parse_description(" x ").unwrap().as_deref(), Some("x"));
        assert!(parse_description(&"d".repeat(1000)).is_ok());
        assert_eq!(
            parse_description(&"d".repeat(1001))
                .unwrap_err()
                .to_string(),
            "description must be at most 1000 characters, got 1001"
        );
    }

    #[test]
    fn a_chain_of_eight_is_allowed_and_nine_is_too_deep() {
        assert_eq!(check_tree(&chain(8)), Ok(()));
        let mut nine = chain(9);
        nine.rotate_right(1);
        assert_eq!(
            check_tree(&nine),
            Err(CostGroupError::TooDeep {
                name: "g9".into(),
                depth: 9
            })
        );
    }

    #[test]
    fn a_group_under_its_own_descendant_is_a_cycle() {
        let mut groups = chain(3);
        groups[0].parent_id = Some(groups[2].id);
        assert_eq!(
            check_tree(&groups),
            Err(CostGroupError::Cycle { name: "g1".into() })
        );
        let mut own = chain(1);
        own[0].parent_id = Some(own[0].id);
        assert!(matches!(
            check_tree(&own),
            Err(CostGroupError::Cycle { .. })
        ));
    }

    #[test]
    fn sibling_names_clash_ignoring_case_but_cousins_may_share_them() {
        let ok = vec![
            group(1, None, "A", None),
            group(2, None, "B", None),
            group(3, Some(1), "Ops", None),
            group(4, Some(2), "ops", None),
        ];
        assert_eq!(check_tree(&ok), Ok(()));
        let clash = vec![
            group(5, Some(1), "OPS", None),
            group(1, None, "A", None),
            group(3, Some(1), "Ops", None),
        ];
        assert_eq!(
            check_tree(&clash),
            Err(CostGroupError::DuplicateSiblingName { name: "OPS".into() })
        );
    }

    #[test]
    fn codes_are_unique_in_the_tenant_ignoring_case() {
        let groups = vec![
            group(1, None, "A", Some("cc1")),
            group(2, Some(1), "B", Some("CC1")),
        ];
        assert!(matches!(
            check_tree(&groups),
            Err(CostGroupError::DuplicateCode { .. })
        ));
    }
}

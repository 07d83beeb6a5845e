//! Keyset conditions shared by the paged finders: rows after a cursor in (sort value, id) order.

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, SimpleExpr};
use uuid::Uuid;

/// Rows strictly after `(key, id)` in the order `(sort_column, id_column)`, ascending or
/// descending on both.
pub(crate) fn after<S, I>(
    sort_column: S,
    id_column: I,
    key: &str,
    id: Uuid,
    descending: bool,
) -> SimpleExpr
where
    S: IntoColumnRef + Clone,
    I: IntoColumnRef,
{
    let sort = Expr::col(sort_column.clone());
    let same = Expr::col(sort_column).eq(key);
    if descending {
        sort.lt(key).or(same.and(Expr::col(id_column).lt(id)))
    } else {
        sort.gt(key).or(same.and(Expr::col(id_column).gt(id)))
    }
}

/// A `LIKE` pattern matching `text` anywhere, lower-cased, with `%`, `_` and `\` escaped.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_search_text_are_escaped() {
        assert_eq!(contains_pattern("50%_A\\b"), "%50\\%\\_a\\\\b%");
    }
}

//! Keyset paging: a page request (size and position) and a page of results.

use uuid::Uuid;

use super::error::DomainError;

/// Default page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A position in an ordered list: the sort value and id of the last row seen.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Which ordering the cursor belongs to; a cursor of another ordering is refused.
    pub ordering: String,
    /// The sort value of the last row seen.
    pub key: String,
    /// The id of the last row seen (breaks ties between equal sort values).
    pub id: Uuid,
}

/// Which slice of a list to return.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// At most this many items.
    pub first: u32,
    /// Start after this position; from the start when `None`.
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Checks a client's `first`: default 50, at most 500, never negative.
    pub fn new(first: Option<i64>, after: Option<Cursor>) -> Result<Self, DomainError> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (0..=i64::from(MAX_PAGE_SIZE)).contains(&n) => n as u32,
            Some(got) => {
                return Err(DomainError::InvalidPageSize {
                    max: MAX_PAGE_SIZE,
                    got,
                });
            }
        };
        Ok(PageRequest { first, after })
    }

    /// The number of rows to fetch: one more than asked, to learn whether a next page exists.
    pub fn fetch_limit(&self) -> u64 {
        u64::from(self.first) + 1
    }
}

/// One page of an ordered list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Whether more items follow the last one.
    pub has_next_page: bool,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page::empty()
    }
}

impl<T> Page<T> {
    /// Builds a page from up to `first + 1` fetched rows.
    pub fn from_overfetched(mut rows: Vec<T>, request: &PageRequest) -> Self {
        let has_next_page = rows.len() > request.first as usize;
        rows.truncate(request.first as usize);
        Page {
            items: rows,
            has_next_page,
        }
    }

    /// An empty last page.
    pub fn empty() -> Self {
        Page {
            items: Vec::new(),
            has_next_page: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_first_defaults_to_fifty() {
        assert_eq!(PageRequest::new(None, None).unwrap().first, 50);
    }

    #[test]
    fn first_above_the_cap_is_refused_not_truncated() {
        let err = PageRequest::new(Some(900), None).unwrap_err();
        assert_eq!(err.to_string(), "first must be between 0 and 500, got 900");
    }

    #[test]
    fn negative_first_is_refused() {
        assert!(PageRequest::new(Some(-1), None).is_err());
    }

    #[test]
    fn overfetched_rows_tell_whether_a_next_page_exists() {
        let request = PageRequest::new(Some(2), None).unwrap();
        let page = Page::from_overfetched(vec![1, 2, 3], &request);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.has_next_page);
        let last = Page::from_overfetched(vec![1, 2], &request);
        assert!(!last.has_next_page);
    }
}

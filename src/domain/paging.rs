//! Page numbers as people (and forged links) send them.

/// The highest page number accepted before counting: far beyond any real list, low
/// enough that `page × rows per page` cannot overflow.
pub const MAX_PAGE: i64 = 1_000_000_000;

/// A requested 0-based page, kept within the pages `total` rows fill: a page past the
/// end is the last page, a negative one the first.
pub fn within(page: i64, total: i64, per_page: i64) -> i64 {
    let last = if total <= 0 || per_page <= 0 {
        0
    } else {
        (total - 1) / per_page
    };
    page.clamp(0, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_past_the_end_are_the_last() {
        assert_eq!(within(i64::MAX, 250, 100), 2);
        assert_eq!(within(2, 250, 100), 2);
        assert_eq!(within(3, 300, 100), 2);
        assert_eq!(within(-5, 250, 100), 0);
        assert_eq!(within(7, 0, 100), 0);
    }
}

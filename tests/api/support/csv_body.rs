//! Reading the CSV bodies of the export endpoints.

/// Every record of `body` separated by `delimiter`, the header as the first.
pub(crate) fn csv_records(body: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(body)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The header of `body` and its rows.
pub(crate) fn csv_table(body: &[u8], delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let mut records = csv_records(body, delimiter);
    assert!(!records.is_empty(), "a CSV body without a header");
    let header = records.remove(0);
    (header, records)
}

//! How every CSV export is written: plain (RFC 4180: `,` between fields, `.` in decimals,
//! UTF-8 without BOM) or, with `?format=excel`, the way Excel opens a double-clicked file in the
//! reader's regional settings. Used by `export` and `chargeback_export` alone.

use actix_web::HttpRequest;
use actix_web::http::header::ACCEPT_LANGUAGE;
use rust_decimal::Decimal;
use serde::Deserialize;

/// Excel recognises UTF-8 only by this byte order mark; without it, it reads the file in the
/// legacy code page of the regional settings (`Zürich` becomes `ZÃ¼rich`).
const BOM: &[u8] = "\u{feff}".as_bytes();

/// `format` and `locale` of any CSV export.
#[derive(Debug, Default, Deserialize)]
struct FormatParams {
    format: Option<String>,
    locale: Option<String>,
}

/// Languages whose Windows regional settings use a decimal comma, and with it `;` as the list
/// separator that Excel splits a CSV file on.
const DECIMAL_COMMA: [&str; 33] = [
    "bg", "ca", "cs", "da", "de", "el", "es", "et", "eu", "fi", "fo", "fr", "gl", "hr", "hu", "id",
    "is", "it", "kk", "lt", "lv", "nb", "nl", "nn", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sr",
    "sv",
];

/// Regions of those languages that write a decimal point but keep `;` as the list separator
/// (Windows: Switzerland and Liechtenstein).
const DECIMAL_POINT_SEMICOLON: [&str; 4] = ["de-ch", "de-li", "it-ch", "rm-ch"];

/// Regions of those languages whose settings are those of English: decimal point, `,`.
const DECIMAL_POINT_COMMA: [&str; 2] = ["es-mx", "es-us"];

/// The separators of one export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CsvFormat {
    /// Starts the file with a UTF-8 byte order mark.
    bom: bool,
    /// Between fields.
    delimiter: u8,
    /// In decimal numbers.
    decimal_comma: bool,
}

impl CsvFormat {
    /// The format a request asks for: `?format=csv` (the default) or `?format=excel`; for
    /// Excel, the separators of `?locale=` (a BCP 47 tag such as `de-CH`), else of the first
    /// language of `Accept-Language`, else of `en`. The message of a 400 for another `format`.
    pub(super) fn of(req: &HttpRequest) -> Result<CsvFormat, String> {
        let params = actix_web::web::Query::<FormatParams>::from_query(req.query_string())
            .map(actix_web::web::Query::into_inner)
            .unwrap_or_default();
        match params.format.as_deref() {
            None | Some("csv") => Ok(CsvFormat::PLAIN),
            Some("excel") => {
                let header = req
                    .headers()
                    .get(ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(first_language);
                Ok(CsvFormat::excel(
                    params.locale.as_deref().or(header).unwrap_or("en"),
                ))
            }
            Some(other) => Err(format!("format must be csv or excel, got {other:?}")),
        }
    }

    /// RFC 4180 with `.` decimals.
    pub(super) const PLAIN: CsvFormat = CsvFormat {
        bom: false,
        delimiter: b',',
        decimal_comma: false,
    };

    /// Excel's reading of a CSV file under the regional settings of `locale`.
    fn excel(locale: &str) -> CsvFormat {
        let tag = locale.trim().replace('_', "-").to_ascii_lowercase();
        let language = tag.split('-').next().unwrap_or_default();
        let region = tag.split('-').take(2).collect::<Vec<_>>().join("-");
        let (delimiter, decimal_comma) = if DECIMAL_POINT_SEMICOLON.contains(&region.as_str()) {
            (b';', false)
        } else if DECIMAL_POINT_COMMA.contains(&region.as_str()) {
            (b',', false)
        } else if DECIMAL_COMMA.contains(&language) {
            (b';', true)
        } else {
            (b',', false)
        };
        CsvFormat {
            bom: true,
            delimiter,
            decimal_comma,
        }
    }

    /// A writer into a buffer that starts with the BOM when `first` and the format has one.
    pub(super) fn writer(&self, first: bool) -> csv::Writer<Vec<u8>> {
        let start = if first && self.bom {
            BOM.to_vec()
        } else {
            Vec::new()
        };
        csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .from_writer(start)
    }

    /// A decimal number as this format writes it: `1234.5` or `1234,5`, no grouping.
    pub(super) fn decimal(&self, value: Decimal) -> String {
        let text = value.to_string();
        if self.decimal_comma {
            text.replace('.', ",")
        } else {
            text
        }
    }
}

/// The first language of an `Accept-Language` value (`de-CH,de;q=0.9` gives `de-CH`); `*` and
/// an empty value give none.
fn first_language(header: &str) -> Option<&str> {
    let first = header.split(',').next()?.split(';').next()?.trim();
    (!first.is_empty() && first != "*").then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn excel_separators_follow_the_regional_settings() {
        for (locale, delimiter, comma) in [
            ("de-DE", b';', true),
            ("fr", b';', true),
            ("nl-BE", b';', true),
            ("de-CH", b';', false),
            ("it_CH", b';', false),
            ("en-US", b',', false),
            ("en-GB", b',', false),
            ("ja", b',', false),
            ("es-MX", b',', false),
            ("es-ES", b';', true),
        ] {
            let f = CsvFormat::excel(locale);
            assert_eq!(
                (f.delimiter, f.decimal_comma, f.bom),
                (delimiter, comma, true),
                "{locale}"
            );
        }
    }

    #[test]
    fn decimals_take_the_separator_of_the_format() {
        assert_eq!(CsvFormat::excel("de").decimal(dec!(1234.50)), "1234,50");
        assert_eq!(CsvFormat::excel("en").decimal(dec!(1234.50)), "1234.50");
        assert_eq!(CsvFormat::PLAIN.decimal(dec!(-0.5)), "-0.5");
    }

    #[test]
    fn the_first_accepted_language_counts() {
        assert_eq!(first_language("de-CH,de;q=0.9,en;q=0.8"), Some("de-CH"));
        assert_eq!(first_language("fr;q=0.5"), Some("fr"));
        assert_eq!(first_language("*"), None);
        assert_eq!(first_language(""), None);
    }
}

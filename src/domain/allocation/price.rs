//! License prices: a monthly unit price per SKU in an ISO 4217 currency from a date, and the
//! choice of the price in force on a date. Pure; must not import SeaORM, async-graphql, actix or
//! reqwest.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use thiserror::Error;

use crate::domain::error::clip;
use crate::domain::ids::SkuId;

/// Most decimal places a unit price may have.
pub const MAX_PRICE_DECIMALS: u32 = 6;

/// Highest monthly unit price accepted, so that report sums stay far from `Decimal`'s limits.
pub const MAX_UNIT_PRICE: i64 = 1_000_000_000;

/// Active ISO 4217 alphabetic codes this service accepts, with their minor units (digits after
/// the decimal point). A subset of ISO 4217's list of active codes: the currencies Microsoft
/// bills CSP partners in and other common ones; add a code here (with ISO's minor units) when a
/// partner needs it.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BDT", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("LKR", 2),
    ("MAD", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency from the accepted list, with its minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    minor_units: u32,
}

impl Currency {
    /// The currency with alphabetic code `code` (three uppercase letters, e.g. `EUR`).
    ///
    /// # Errors
    /// [`PriceError::UnknownCurrency`] when the code is not one of the accepted active codes.
    pub fn parse(code: &str) -> Result<Self, PriceError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, minor_units)| Currency { code, minor_units })
            .ok_or_else(|| PriceError::UnknownCurrency { code: clip(code) })
    }

    /// The alphabetic code, e.g. `CHF`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point of the minor unit: 2 for EUR (cents), 0 for JPY, 3 for BHD.
    pub fn minor_units(&self) -> u32 {
        self.minor_units
    }

    /// An amount counted in minor units as a decimal amount: 1234 cents is 12.34 EUR.
    pub fn from_minor(&self, amount: i64) -> Decimal {
        Decimal::new(amount, self.minor_units)
    }

    /// `amount` as money is shown: with at least the currency's minor units (`32.4` EUR is
    /// `32.40`, `1000` JPY stays `1000`), and every further digit it has (`32.4567`).
    pub fn show(&self, amount: Decimal) -> Decimal {
        let mut shown = amount;
        if shown.scale() < self.minor_units {
            shown.rescale(self.minor_units);
        }
        shown
    }

    /// [`Currency::show`] for an amount whose currency may be unknown (no price in force: the
    /// amount is zero), then shown in cents; trailing zeros past that are dropped.
    pub fn show_in(currency: Option<Currency>, amount: Decimal) -> Decimal {
        let amount = amount.normalize();
        match currency {
            Some(c) => c.show(amount),
            None => {
                let mut cents = amount;
                cents.rescale(amount.scale().max(2));
                cents
            }
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl std::str::FromStr for Currency {
    type Err = PriceError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Currency::parse(code)
    }
}

/// A price that cannot be used, or prices that do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PriceError {
    /// A currency code not in the accepted list.
    #[error("currency must be an active ISO 4217 code such as EUR or USD, got {code:?}")]
    UnknownCurrency {
        /// The rejected code, shortened.
        code: String,
    },
    /// A price below zero.
    #[error("monthlyUnitPrice must be 0 or more, got {price}")]
    Negative {
        /// The price.
        price: Decimal,
    },
    /// A price above [`MAX_UNIT_PRICE`].
    #[error("monthlyUnitPrice must be at most {MAX_UNIT_PRICE}, got {price}")]
    TooHigh {
        /// The price.
        price: Decimal,
    },
    /// A price with too many decimal places.
    #[error("monthlyUnitPrice must have at most {MAX_PRICE_DECIMALS} decimal places, got {price}")]
    TooPrecise {
        /// The price.
        price: Decimal,
    },
    /// Prices in force in more than one currency.
    #[error("prices in force must share one currency, got {}", describe(.by_currency))]
    MixedCurrencies {
        /// The SKUs priced in each currency, currencies and SKUs in order.
        by_currency: Vec<(Currency, Vec<SkuId>)>,
    },
}

fn describe(by_currency: &[(Currency, Vec<SkuId>)]) -> String {
    by_currency
        .iter()
        .map(|(currency, skus)| {
            let skus: Vec<String> = skus.iter().map(ToString::to_string).collect();
            format!("{currency} for SKUs {}", skus.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What one license of a SKU costs per month, in a currency, from a date on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    sku_id: SkuId,
    monthly_unit_price: Decimal,
    currency: Currency,
    effective_from: NaiveDate,
}

impl Price {
    /// A validated price.
    ///
    /// # Errors
    /// [`PriceError::Negative`], [`PriceError::TooHigh`] (above [`MAX_UNIT_PRICE`]) or
    /// [`PriceError::TooPrecise`] (more than [`MAX_PRICE_DECIMALS`] decimal places).
    pub fn new(
        sku_id: SkuId,
        monthly_unit_price: Decimal,
        currency: Currency,
        effective_from: NaiveDate,
    ) -> Result<Self, PriceError> {
        if monthly_unit_price < Decimal::ZERO {
            return Err(PriceError::Negative {
                price: monthly_unit_price,
            });
        }
        if monthly_unit_price > Decimal::from(MAX_UNIT_PRICE) {
            return Err(PriceError::TooHigh {
                price: monthly_unit_price,
            });
        }
        if monthly_unit_price.normalize().scale() > MAX_PRICE_DECIMALS {
            return Err(PriceError::TooPrecise {
                price: monthly_unit_price,
            });
        }
        Ok(Price {
            sku_id,
            monthly_unit_price,
            currency,
            effective_from,
        })
    }

    /// The SKU.
    pub fn sku_id(&self) -> SkuId {
        self.sku_id
    }

    /// Monthly price of one license, in [`Price::currency`].
    pub fn monthly_unit_price(&self) -> Decimal {
        self.monthly_unit_price
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// First day the price applies.
    pub fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }
}

/// The price of `sku` in force on `date`: the one with the latest `effective_from` on or before
/// `date`; of two with the same date, the later in `prices`. `None` when the SKU has no price yet.
pub fn price_on(prices: &[Price], sku: SkuId, date: NaiveDate) -> Option<&Price> {
    let mut best: Option<&Price> = None;
    for price in prices {
        if price.sku_id == sku
            && price.effective_from <= date
            && best.is_none_or(|b| price.effective_from >= b.effective_from)
        {
            best = Some(price);
        }
    }
    best
}

/// The unit prices in force on `date` for `skus`, and their one currency (`None` when none of
/// the SKUs has a price). SKUs without a price are absent from the map.
///
/// # Errors
/// [`PriceError::MixedCurrencies`] naming the SKUs of each currency when the prices in force are
/// not all in one currency.
pub fn prices_in_force(
    prices: &[Price],
    skus: impl IntoIterator<Item = SkuId>,
    date: NaiveDate,
) -> Result<(Option<Currency>, HashMap<SkuId, Decimal>), PriceError> {
    let mut by_currency: BTreeMap<Currency, Vec<SkuId>> = BTreeMap::new();
    let mut unit_prices = HashMap::new();
    for sku in skus {
        if unit_prices.contains_key(&sku) {
            continue;
        }
        if let Some(price) = price_on(prices, sku, date) {
            unit_prices.insert(sku, price.monthly_unit_price);
            by_currency.entry(price.currency).or_default().push(sku);
        }
    }
    if by_currency.len() > 1 {
        let by_currency = by_currency
            .into_iter()
            .map(|(currency, mut skus)| {
                skus.sort();
                (currency, skus)
            })
            .collect();
        return Err(PriceError::MixedCurrencies { by_currency });
    }
    Ok((by_currency.into_keys().next(), unit_prices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::test_support::guid;
    use rust_decimal_macros::dec;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn price(sku: u128, amount: Decimal, from: NaiveDate) -> Price {
        Price::new(SkuId(guid(sku)), amount, eur(), from).unwrap()
    }

    #[test]
    fn money_is_shown_with_at_least_the_minor_units_and_every_digit_given() {
        let show = |code: &str, amount: &str| {
            Currency::parse(code)
                .unwrap()
                .show(amount.parse().unwrap())
                .to_string()
        };
        assert_eq!(show("EUR", "32.4"), "32.40");
        assert_eq!(show("EUR", "32.40"), "32.40");
        assert_eq!(show("EUR", "32"), "32.00");
        assert_eq!(show("EUR", "1.2345"), "1.2345");
        assert_eq!(show("JPY", "1000"), "1000");
        assert_eq!(show("BHD", "2.5"), "2.500");
    }

    #[test]
    fn known_currencies_carry_their_minor_units() {
        for (code, minor) in [("JPY", 0), ("CHF", 2), ("BHD", 3), ("EUR", 2), ("KWD", 3)] {
            let c: Currency = code.parse().unwrap();
            assert_eq!((c.code(), c.minor_units()), (code, minor));
        }
    }

    #[test]
    fn minor_units_convert_to_decimal_amounts() {
        let jpy = Currency::parse("JPY").unwrap();
        let bhd = Currency::parse("BHD").unwrap();
        assert_eq!(eur().from_minor(1234), dec!(12.34));
        assert_eq!(jpy.from_minor(1234), dec!(1234));
        assert_eq!(bhd.from_minor(1234), dec!(1.234));
    }

    #[test]
    fn unknown_lowercase_or_malformed_currency_codes_are_refused() {
        for code in ["eur", "EURO", "", "XYZ", "DEM", "E1R"] {
            let err = Currency::parse(code).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("currency must be an active ISO 4217 code"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_currency_list_is_sorted_unique_and_well_formed() {
        let codes: Vec<&str> = CURRENCIES.iter().map(|(c, _)| *c).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        for (code, minor) in CURRENCIES {
            assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(*minor <= 3);
        }
    }

    #[test]
    fn negative_or_too_precise_prices_are_refused() {
        let sku = SkuId(guid(1));
        let from = day(2026, 1, 1);
        assert_eq!(
            Price::new(sku, dec!(-0.01), eur(), from)
                .unwrap_err()
                .to_string(),
            "monthlyUnitPrice must be 0 or more, got -0.01"
        );
        assert_eq!(
            Price::new(sku, dec!(1.0000001), eur(), from)
                .unwrap_err()
                .to_string(),
            "monthlyUnitPrice must have at most 6 decimal places, got 1.0000001"
        );
        assert_eq!(
            Price::new(sku, dec!(1000000000.01), eur(), from)
                .unwrap_err()
                .to_string(),
            "monthlyUnitPrice must be at most 1000000000, got 1000000000.01"
        );
        assert!(Price::new(sku, dec!(0), eur(), from).is_ok());
    }

    #[test]
    fn the_price_in_force_is_the_latest_on_or_before_the_date() {
        let prices = vec![
            price(1, dec!(20), day(2026, 3, 1)),
            price(1, dec!(10), day(2026, 1, 1)),
            price(2, dec!(99), day(2025, 1, 1)),
            price(1, dec!(30), day(2026, 6, 1)),
        ];
        let sku = SkuId(guid(1));
        let at = |d| price_on(&prices, sku, d).map(Price::monthly_unit_price);
        assert_eq!(at(day(2025, 12, 31)), None);
        assert_eq!(at(day(2026, 1, 1)), Some(dec!(10)));
        assert_eq!(at(day(2026, 2, 28)), Some(dec!(10)));
        assert_eq!(at(day(2026, 3, 1)), Some(dec!(20)));
        assert_eq!(at(day(2026, 5, 31)), Some(dec!(20)));
        assert_eq!(at(day(2027, 1, 1)), Some(dec!(30)));
    }

    #[test]
    fn of_two_prices_from_the_same_day_the_later_one_counts() {
        let prices = vec![
            price(1, dec!(10), day(2026, 1, 1)),
            price(1, dec!(12), day(2026, 1, 1)),
        ];
        let p = price_on(&prices, SkuId(guid(1)), day(2026, 2, 1)).unwrap();
        assert_eq!(p.monthly_unit_price(), dec!(12));
    }

    #[test]
    fn mixed_currencies_in_force_are_an_error_naming_the_skus() {
        let usd = Currency::parse("USD").unwrap();
        let prices = vec![
            price(1, dec!(10), day(2026, 1, 1)),
            Price::new(SkuId(guid(2)), dec!(5), usd, day(2026, 1, 1)).unwrap(),
            // Only the price in force counts: this old USD price of SKU 1 does not.
            Price::new(SkuId(guid(1)), dec!(5), usd, day(2025, 1, 1)).unwrap(),
        ];
        let skus = [SkuId(guid(1)), SkuId(guid(2))];
        let err = prices_in_force(&prices, skus, day(2026, 2, 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "prices in force must share one currency, got \
             EUR for SKUs 00000000-0000-0000-0000-000000000001; \
             USD for SKUs 00000000-0000-0000-0000-000000000002"
        );
        let (currency, map) = prices_in_force(&prices, skus, day(2025, 6, 1)).unwrap();
        assert_eq!(currency, Some(usd));
        assert_eq!(map.len(), 1);
    }
}

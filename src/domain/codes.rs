//! 医療機関コード (保険医療機関番号): 10 digits = 都道府県番号 (2) + 点数表番号 (1) +
//! 郡市区番号 (2) + 医療機関等番号 (4) + 検証番号 (1). See domain.md §3.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("医療機関コードは数字10桁で入力してください")]
    WrongLength,
    #[error("医療機関コードに数字以外の文字が含まれています")]
    NotDigits,
    #[error("医療機関コードの検証番号（末尾の1桁）が正しくありません（正しくは {expected}）")]
    CheckDigit { expected: u8 },
    #[error("都道府県番号は 01〜47 です")]
    Prefecture,
}

/// 点数表番号.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FeeTable {
    /// 1: 医科
    Medical,
    /// 3: 歯科
    Dental,
    /// 4: 調剤
    Pharmacy,
}

impl FeeTable {
    pub fn digit(self) -> char {
        match self {
            FeeTable::Medical => '1',
            FeeTable::Dental => '3',
            FeeTable::Pharmacy => '4',
        }
    }

    pub fn from_digit(c: char) -> Option<FeeTable> {
        match c {
            '1' => Some(FeeTable::Medical),
            '3' => Some(FeeTable::Dental),
            '4' => Some(FeeTable::Pharmacy),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FeeTable::Medical => "医科",
            FeeTable::Dental => "歯科",
            FeeTable::Pharmacy => "調剤",
        }
    }
}

/// The check digit of the first nine digits: from the rightmost, weights 2, 1, 2, 1, …;
/// two-digit products contribute the sum of their digits; (10 − S mod 10) mod 10.
pub fn check_digit(first_nine: &[u8; 9]) -> u8 {
    let sum: u32 = first_nine
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let product = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            product / 10 + product % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A valid 10-digit institution code.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct InstitutionCode(String);

impl TryFrom<String> for InstitutionCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, CodeError> {
        InstitutionCode::parse(&s)
    }
}

impl From<InstitutionCode> for String {
    fn from(c: InstitutionCode) -> String {
        c.0
    }
}

impl InstitutionCode {
    /// Parses a code as people type it: full-width digits, hyphens, dots, commas and
    /// spaces are accepted and dropped.
    pub fn parse(input: &str) -> Result<InstitutionCode, CodeError> {
        let digits = digits_only(input)?;
        if digits.len() != 10 {
            return Err(CodeError::WrongLength);
        }
        let bytes: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let prefecture = bytes[0] * 10 + bytes[1];
        if !(1..=47).contains(&prefecture) {
            return Err(CodeError::Prefecture);
        }
        let mut nine = [0u8; 9];
        nine.copy_from_slice(&bytes[..9]);
        let expected = check_digit(&nine);
        if bytes[9] != expected {
            return Err(CodeError::CheckDigit { expected });
        }
        Ok(InstitutionCode(digits))
    }

    /// Builds the 10-digit code from the prefecture, the fee table and the seven digits
    /// the regional bureau prints (郡市区番号 + 医療機関等番号 + 検証番号), and verifies it.
    pub fn from_bureau_parts(
        prefecture: u8,
        fee_table: FeeTable,
        seven: &str,
    ) -> Result<InstitutionCode, CodeError> {
        let seven = digits_only(seven)?;
        if seven.len() != 7 {
            return Err(CodeError::WrongLength);
        }
        Self::parse(&format!("{prefecture:02}{}{seven}", fee_table.digit()))
    }

    /// Makes a valid code from its nine leading digits (used by the demo generator).
    pub fn with_check_digit(
        prefecture: u8,
        fee_table: FeeTable,
        district: u8,
        serial: u16,
    ) -> InstitutionCode {
        let nine = format!(
            "{prefecture:02}{}{district:02}{serial:04}",
            fee_table.digit()
        );
        let mut digits = [0u8; 9];
        for (slot, b) in digits.iter_mut().zip(nine.bytes()) {
            *slot = b - b'0';
        }
        InstitutionCode(format!("{nine}{}", check_digit(&digits)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn prefecture(&self) -> &str {
        &self.0[..2]
    }

    pub fn fee_table(&self) -> Option<FeeTable> {
        self.0.chars().nth(2).and_then(FeeTable::from_digit)
    }

    /// The seven digits as the bureau prints them: `01-1047-8` style.
    pub fn bureau_form(&self) -> String {
        format!("{}-{}-{}", &self.0[3..5], &self.0[5..9], &self.0[9..])
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keeps the digits of a code as typed, folding full-width digits and dropping the
/// separators people use; any other character is an error.
fn digits_only(input: &str) -> Result<String, CodeError> {
    let mut out = String::with_capacity(10);
    for c in input.chars() {
        match c {
            '0'..='9' => out.push(c),
            '０'..='９' => out.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '-' | '－' | 'ー' | '‐' | '−' | '.' | '．' | ',' | '，' | ' ' | '　' | '\t' => {
            }
            _ => return Err(CodeError::NotDigits),
        }
    }
    Ok(out)
}

/// A code typed into a search box: nothing, the 7 printed digits (郡市区番号 onwards),
/// or a whole 10-digit code (check digit verified); full-width digits and separators
/// are accepted. The error is the message to show next to the field.
pub fn search_code(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let digits: String = super::normalize::nfkc(text)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    match digits.len() {
        7 => Ok(Some(digits)),
        10 => InstitutionCode::parse(&digits)
            .map(|c| Some(c.to_string()))
            .map_err(|e| e.to_string()),
        _ => Err("医療機関コードは7桁か10桁で入力してください（7桁は郡市区番号から）".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_code_takes_seven_or_ten_digits() {
        assert_eq!(search_code("  "), Ok(None));
        assert_eq!(search_code("０１０００２８"), Ok(Some("0100028".into())));
        let valid: Vec<String> = (0..10)
            .map(|d| format!("461010028{d}"))
            .filter(|c| InstitutionCode::parse(c).is_ok())
            .collect();
        assert_eq!(valid.len(), 1, "one check digit fits");
        let typed = format!("{}-{} ", &valid[0][..3], &valid[0][3..]);
        assert_eq!(search_code(&typed), Ok(Some(valid[0].clone())));
        let wrong = (0..10)
            .map(|d| format!("461010028{d}"))
            .find(|c| c != &valid[0])
            .unwrap();
        assert!(search_code(&wrong).is_err(), "wrong check digit");
        assert!(search_code("123").unwrap_err().contains("7桁か10桁"));
    }

    #[test]
    fn published_examples_are_valid() {
        for code in ["0110113719", "0110112489", "1840140055"] {
            assert_eq!(InstitutionCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn every_wrong_check_digit_is_rejected() {
        for last in 0..10u8 {
            let code = format!("011011371{last}");
            let result = InstitutionCode::parse(&code);
            if last == 9 {
                assert!(result.is_ok());
            } else {
                assert_eq!(result, Err(CodeError::CheckDigit { expected: 9 }));
            }
        }
    }

    #[test]
    fn typed_forms_are_normalised() {
        assert_eq!(
            InstitutionCode::parse("０１１０１１３７１９")
                .unwrap()
                .as_str(),
            "0110113719"
        );
        assert_eq!(
            InstitutionCode::parse("01 1 01-1371-9").unwrap().as_str(),
            "0110113719"
        );
        assert_eq!(
            InstitutionCode::parse("011011371"),
            Err(CodeError::WrongLength)
        );
        assert_eq!(
            InstitutionCode::parse("01101137a9"),
            Err(CodeError::NotDigits)
        );
        assert_eq!(
            InstitutionCode::parse("9910113719"),
            Err(CodeError::Prefecture)
        );
    }

    #[test]
    fn bureau_parts_build_the_full_code() {
        let code = InstitutionCode::from_bureau_parts(1, FeeTable::Medical, "01-1371-9").unwrap();
        assert_eq!(code.as_str(), "0110113719");
        assert_eq!(code.bureau_form(), "01-1371-9");
        assert_eq!(code.fee_table(), Some(FeeTable::Medical));
        assert_eq!(code.prefecture(), "01");
        assert!(InstitutionCode::from_bureau_parts(1, FeeTable::Medical, "01-1371-8").is_err());
    }

    #[test]
    fn random_text_never_panics_and_only_valid_codes_pass() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let alphabet: Vec<char> = "0123456789０１２３４５６７８９-－., 　a#ー\n"
            .chars()
            .collect();
        for _ in 0..20_000 {
            let len = rng.random_range(0..16);
            let text: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            if let Ok(code) = InstitutionCode::parse(&text) {
                let digits: Vec<u8> = code.as_str().bytes().map(|b| b - b'0').collect();
                let mut nine = [0u8; 9];
                nine.copy_from_slice(&digits[..9]);
                assert_eq!(check_digit(&nine), digits[9], "{text}");
            }
            let _ = InstitutionCode::from_bureau_parts(
                rng.random_range(0..100),
                FeeTable::Medical,
                &text,
            );
        }
    }

    #[test]
    fn generated_codes_always_validate() {
        for district in [0u8, 1, 47, 99] {
            for serial in [0u16, 1, 1234, 9999] {
                for table in [FeeTable::Medical, FeeTable::Dental] {
                    let code = InstitutionCode::with_check_digit(46, table, district, serial);
                    assert_eq!(InstitutionCode::parse(code.as_str()).as_ref(), Ok(&code));
                }
            }
        }
    }
}

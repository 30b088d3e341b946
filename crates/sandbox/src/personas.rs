//! The synthetic people the simulators verify. Every value here is made up.
//!
//! | key | what it exercises |
//! |---|---|
//! | `hong` | a Hangul name that must travel as EUC-KR (NICE), domestic, SKT |
//! | `wilson` | a foreigner with a Latin name, KT |
//! | `kim-mvno` | an MVNO (알뜰폰) subscriber on LG U+'s network, born after 2000 |
//! | `lee-cp949` | a name with a syllable outside KS X 1001 (똠), which only CP949 encodes |

use bonin_domain::{Carrier, Gender, Nationality};
use serde::Serialize;

/// One synthetic person, with the values a provider would report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Persona {
    /// Stable key used by tests and the window pages.
    pub key: &'static str,
    /// Name as the provider reports it.
    pub name: &'static str,
    /// `YYYYMMDD`.
    pub birth_date: &'static str,
    /// Gender.
    pub gender: Gender,
    /// Domestic or foreign.
    pub nationality: Nationality,
    /// Mobile number, digits only.
    pub phone: &'static str,
    /// Carrier.
    pub carrier: Carrier,
    /// CI, 88 Base64 characters.
    pub ci: &'static str,
    /// DI, 64 characters.
    pub di: &'static str,
    /// The OTP the simulators accept for this persona.
    pub otp: &'static str,
}

/// Every persona, `hong` first.
pub const ALL: [Persona; 4] = [
    Persona {
        key: "hong",
        name: "홍길동",
        birth_date: "19900215",
        gender: Gender::Male,
        nationality: Nationality::Domestic,
        phone: "01012345678",
        carrier: Carrier::Skt,
        ci: "CF/1vXJ4c4gxspHOjBpoB7qS9ROYgF9ooDlX0ztSIuE/RXVQavz4YhfMXqwY+WtJEDTZ475JNWxkakU7/YvpkAAA",
        di: "6261494DDB406F50CAA58DD52CFA93A735FDE90ED0D977992DCDA10D673FC2B3",
        otp: "123456",
    },
    Persona {
        key: "wilson",
        name: "EMMA WILSON",
        birth_date: "19950721",
        gender: Gender::Female,
        nationality: Nationality::Foreign,
        phone: "01098761234",
        carrier: Carrier::Kt,
        ci: "r2AyeGwkDcIp6BrTF1DvRkSZlk09MLSFyGqfY0WO5GfHpFcFQkp+YpjMvCoBXDefwrkkVD1C9T0baSLC2/vOkwAA",
        di: "0C80D71494FC733D238D6E8FB907E92EB0A85AF6D1D61ACAB37E9A951BBB270A",
        otp: "234567",
    },
    Persona {
        key: "kim-mvno",
        name: "김알뜰",
        birth_date: "20011103",
        gender: Gender::Female,
        nationality: Nationality::Domestic,
        phone: "01055556666",
        carrier: Carrier::LguMvno,
        ci: "XihO6AYKIeKS5EpumpnflbHlEA5IFN6TogYvihvKLEhIetJW7tSmBoIwP9QJqNMhEDorcSwkLiMEXYL2eeAUnwAA",
        di: "C5DB8BBAD8712D4B3112B8B584A1A7E774B513123DAB7AA7B8CB47EB0CF8368C",
        otp: "345678",
    },
    Persona {
        key: "lee-cp949",
        name: "이똠방",
        birth_date: "19781224",
        gender: Gender::Male,
        nationality: Nationality::Domestic,
        phone: "0162223333",
        carrier: Carrier::SktMvno,
        ci: "AwcsuRlj+mKdUfawRiKWxuSSlO0ecI4SQ0tEBox3LVpwx2oiMKA2JbM9yGbRGz0vU2yrBZQDMK7s0iLvLbHzbQAA",
        di: "0BE401B43F4D1B9DB614E029F00FD3B6D7B6A081AFDBA982EA0D2C879C837A5C",
        otp: "456789",
    },
];

/// The persona with `key`.
pub fn by_key(key: &str) -> Option<&'static Persona> {
    ALL.iter().find(|p| p.key == key)
}

/// The persona with this phone number (how OTP simulators find the person).
pub fn by_phone(phone: &str) -> Option<&'static Persona> {
    ALL.iter().find(|p| p.phone == phone)
}

/// The default persona (`hong`).
pub fn default_persona() -> &'static Persona {
    &ALL[0]
}

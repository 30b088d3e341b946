//! NICE result codes → domain errors, one table per layer. Checked in order: `GW_RSLT_CD`, then
//! `rsp_cd`, then `result_cd`; only the first non-success layer counts. Unknown codes are kept
//! verbatim as `Rejected { code: "<layer>:<code>" }`.

use bonin_domain::{Dependency, Error, ProviderId};

/// What a code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Class {
    /// Success.
    Ok,
    /// The access token was refused (NICE 1800, also raised for clock skew ≥ 3 min): refresh it once
    /// and retry.
    TokenRejected,
    /// bonin or the NICE contract must be fixed by an operator.
    Misconfigured(&'static str),
    /// Temporarily unavailable: nothing was issued, retry later.
    Unavailable,
    /// NICE refused this request.
    Rejected,
}

/// `dataHeader.GW_RSLT_CD`.
pub const GATEWAY: &[(&str, Class, &str)] = &[
    ("1200", Class::Ok, "오류 없음"),
    ("1300", Class::Rejected, "request body가 비었습니다"),
    ("1400", Class::Rejected, "잘못된 요청"),
    (
        "1401",
        Class::Misconfigured("NICE gateway 1401: authentication required; check client_id and client_secret"),
        "인증 필요",
    ),
    ("1402", Class::Misconfigured("NICE gateway 1402: this client has no permission for the API"), "권한 없음"),
    ("1403", Class::Misconfigured("NICE gateway 1403: the service is suspended for this client"), "서비스 사용 중지됨"),
    ("1404", Class::Misconfigured("NICE gateway 1404: service not found; check api_base"), "서비스를 찾을 수 없음"),
    ("1500", Class::Rejected, "서버 내부 오류 (body not split into dataHeader/dataBody)"),
    ("1501", Class::Unavailable, "보호된 서비스에서 액세스 거부"),
    ("1502", Class::Unavailable, "보호된 서비스에서 응답이 잘못됨"),
    ("1503", Class::Unavailable, "일시적으로 사용할 수 없는 서비스"),
    ("1700", Class::Misconfigured("NICE gateway 1700: client_id not allowed"), "액세스 불허: Client ID"),
    (
        "1701",
        Class::Misconfigured("NICE gateway 1701: service URI not allowed; check api_base"),
        "액세스 불허: Service URI",
    ),
    (
        "1702",
        Class::Misconfigured(
            "NICE gateway 1702: this server's IP address is not allowed; register the server's egress IP in the NICE API portal (My App → 수정 → 허용 IP)",
        ),
        "액세스 불허: Client ID + Client IP",
    ),
    (
        "1703",
        Class::Misconfigured("NICE gateway 1703: service URI not allowed for this client"),
        "액세스 불허: Client ID + Service URI",
    ),
    (
        "1705",
        Class::Misconfigured("NICE gateway 1705: this server's IP is blacklisted for the client"),
        "액세스 불허: Client ID + Black List Client IP",
    ),
    (
        "1706",
        Class::Misconfigured("NICE gateway 1706: the product is not contracted for this client; check product_id"),
        "액세스 불허: Client ID + Product Code",
    ),
    (
        "1707",
        Class::Misconfigured("NICE gateway 1707: product not allowed on this service URI"),
        "액세스 불허: Product Code + Service URI",
    ),
    ("1711", Class::Rejected, "거래 제한 요일"),
    ("1712", Class::Rejected, "거래 제한 시간"),
    ("1713", Class::Rejected, "거래 제한 일자"),
    ("1714", Class::Rejected, "거래 제한 공휴일"),
    ("1715", Class::Rejected, "거래 제한"),
    ("1716", Class::Rejected, "거래 제한"),
    ("1717", Class::Rejected, "SQL 인젝션, XSS 방어"),
    ("1800", Class::TokenRejected, "잘못된 토큰 (or clock skew ≥ 3 min)"),
    (
        "1801",
        Class::Misconfigured("NICE gateway 1801: wrong client information; check client_id"),
        "잘못된 클라이언트 정보",
    ),
    ("1900", Class::Unavailable, "초과된 연결횟수"),
    ("1901", Class::Unavailable, "초과된 토큰 조회 실패"),
    ("1902", Class::Unavailable, "초과된 토큰 체크 실패"),
    ("1903", Class::Unavailable, "초과된 접속자 수"),
    ("1904", Class::Rejected, "전송 크기 초과"),
    ("1905", Class::Unavailable, "접속량이 너무 많음"),
    ("1906", Class::Rejected, "상품이용 한도초과"),
    ("1907", Class::Rejected, "API 이용 주기 초과"),
    ("1908", Class::Rejected, "상품 이용 주기 초과"),
];

/// `dataBody.rsp_cd`.
pub const RESPONSE: &[(&str, Class, &str)] = &[
    ("P000", Class::Ok, "정상"),
    (
        "P013",
        Class::Misconfigured("NICE rsp_cd P013: the institution's service has not been opened; contact NICE"),
        "이용기관 개시상태 아님",
    ),
    ("S603", Class::Unavailable, "내부 DB 오류"),
    (
        "E998",
        Class::Misconfigured("NICE rsp_cd E998: the contract is suspended; contact NICE"),
        "서비스 권한 오류 (정지된 계약)",
    ),
    ("E999", Class::Unavailable, "내부 시스템 오류"),
    ("EAPI2500", Class::Rejected, "맵핑정보 없음"),
    ("EAPI2510", Class::Rejected, "잘못된 요청"),
    ("EAPI2530", Class::Rejected, "응답전문 맵핑 오류"),
    ("EAPI2540", Class::Rejected, "대응답 정보 없음"),
    ("EAPI2550", Class::Rejected, "숫자타입 입력 오류"),
    ("EAPI2560", Class::Rejected, "실수타입 입력 오류"),
    ("EAPI2561", Class::Rejected, "실수형 길이 오류"),
    ("EAPI2562", Class::Rejected, "실수형 논리 오류"),
    ("EAPI2563", Class::Rejected, "실수형 파싱 오류"),
    ("EAPI2564", Class::Rejected, "실수형 정수부 오류"),
    ("EAPI2565", Class::Rejected, "실수형 소수부 오류"),
    ("EAPI2600", Class::Unavailable, "내부 시스템 오류"),
    ("EAPI2700", Class::Unavailable, "외부 시스템 연동 오류"),
    ("EAPI2701", Class::Unavailable, "타임아웃"),
    ("EAPI2702", Class::Rejected, "DISCONNECTION_OK"),
    ("EAPI2703", Class::Rejected, "DISCONNECTION_FAIL"),
    ("EAPI2704", Class::Rejected, "RESULT_OK"),
    ("EAPI2705", Class::Rejected, "RESULT_FAIL"),
    ("EAPI2892", Class::Rejected, "반복부 카운터 에러"),
    ("EAPI5001", Class::Rejected, "schema 검증정보 없음"),
    ("EAPI5002", Class::Rejected, "schema 검증 실패"),
];

/// `dataBody.result_cd` of the crypto-token call.
pub const CRYPTO_TOKEN_RESULT: &[(&str, Class, &str)] = &[
    ("0000", Class::Ok, "발급 성공"),
    ("0001", Class::Rejected, "필수입력값 오류"),
    (
        "0003",
        Class::Misconfigured(
            "NICE result_cd 0003: this institution is not eligible for crypto tokens; check the contract with NICE",
        ),
        "발급 대상 회원사 아님",
    ),
    ("0099", Class::Rejected, "기타오류"),
];

/// The class of `code` in `table`; unknown codes are `Rejected`.
pub fn classify(table: &[(&str, Class, &str)], code: &str) -> Class {
    table.iter().find(|(c, _, _)| *c == code).map_or(Class::Rejected, |(_, class, _)| *class)
}

/// The domain error for a non-success `code` of `layer` (`GW_RSLT_CD`, `rsp_cd`, `result_cd`).
/// `message` is NICE's own fixed message text for the code.
pub fn to_error(layer: &str, code: &str, class: Class, message: Option<String>) -> Error {
    match class {
        Class::Misconfigured(reason) => Error::misconfigured(reason),
        Class::Unavailable => Error::Unavailable {
            dependency: Dependency::Provider(ProviderId::Nice),
            reason: format!("NICE {layer} {code}").into(),
        },
        Class::Ok | Class::TokenRejected | Class::Rejected => {
            Error::rejected(ProviderId::Nice, format!("{layer}:{code}"), message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_exactly_one_success_code_and_no_duplicates() {
        for table in [GATEWAY, RESPONSE, CRYPTO_TOKEN_RESULT] {
            assert_eq!(table.iter().filter(|(_, c, _)| *c == Class::Ok).count(), 1);
            let mut codes: Vec<_> = table.iter().map(|(c, _, _)| *c).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), table.len());
        }
    }

    #[test]
    fn ip_not_registered_tells_the_operator_what_to_do() {
        let error = to_error("GW_RSLT_CD", "1702", classify(GATEWAY, "1702"), None);
        assert!(
            matches!(&error, Error::Misconfigured { reason } if reason.contains("허용 IP") && reason.contains("egress IP"))
        );
    }

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        let error = to_error("rsp_cd", "EAPI9999", classify(RESPONSE, "EAPI9999"), Some("new".into()));
        assert_eq!(error, Error::rejected(ProviderId::Nice, "rsp_cd:EAPI9999", Some("new".into())));
    }
}

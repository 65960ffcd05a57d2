use super::*;

fn json<T: DeserializeOwned + Validate>(body: &str) -> Result<T, ApiError> {
    parse_json(Some("application/json; charset=utf-8"), body.as_bytes())
}

#[test]
fn bad_json_catalogue() {
    let bad = |r: Result<PasswordAuthenticate, ApiError>| r.map(|_| ()).unwrap_err();
    assert_eq!(
        bad(json("{")),
        ApiError::InvalidRequest("malformed JSON".into())
    );
    assert_eq!(bad(json("[]")).code(), "invalid_request");
    assert_eq!(
        bad(json(r#"["alice","pw"]"#)),
        ApiError::InvalidRequest("the body must be a JSON object".into())
    );
    assert_eq!(
        bad(json(r#"{"password":"x"}"#)),
        ApiError::InvalidRequest("missing field `username`".into())
    );
    assert_eq!(
        bad(json(r#"{"username":"","password":"x"}"#)).code(),
        "invalid_request"
    );
    assert_eq!(
        bad(json(r#"{"username":"a\nb","password":"x"}"#)).code(),
        "invalid_request"
    );
    assert_eq!(
        bad(json(r#"{"username":1,"password":"x"}"#)).code(),
        "invalid_request"
    );
    let big = format!(
        r#"{{"username":"a","password":"{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    assert_eq!(bad(json(&big)), ApiError::PayloadTooLarge);
    assert_eq!(
        parse_json::<Logout>(Some("text/plain"), b"{}").unwrap_err(),
        ApiError::UnsupportedMediaType
    );
    assert_eq!(
        parse_json::<Logout>(None, b"{}").unwrap_err(),
        ApiError::UnsupportedMediaType
    );
    let ok: PasswordAuthenticate = json(
        r#"{"username":"alice","password":"p","client_attributes":{"user_agent":"UA"},"claims":{}}"#,
    )
    .unwrap();
    assert_eq!(
        ok.client_attributes.unwrap().user_agent.as_deref(),
        Some("UA")
    );
}

#[test]
fn body_size_header() {
    let max = MAX_BODY_BYTES;
    assert_eq!(check_body_size(None, max), Ok(None));
    assert_eq!(check_body_size(Some("16384"), max), Ok(Some(16384)));
    assert_eq!(check_body_size(Some(" 0 "), max), Ok(Some(0)));
    for over in ["16385", "157286400", "99999999999999999999999999"] {
        assert_eq!(
            check_body_size(Some(over), max),
            Err(ApiError::PayloadTooLarge),
            "{over}"
        );
    }
    for bad in ["x", "", "-1", "+5", "5, 5", "1e3"] {
        assert_eq!(
            check_body_size(Some(bad), max).map_err(|e| e.status()),
            Err(400),
            "{bad:?}"
        );
    }
}

#[test]
fn body_size_while_read() {
    assert_eq!(check_read_size(0, 10), Ok(()));
    assert_eq!(check_read_size(10, 10), Ok(()));
    assert_eq!(check_read_size(11, 10), Err(ApiError::PayloadTooLarge));
    assert_eq!(
        check_read_size(usize::MAX, 10),
        Err(ApiError::PayloadTooLarge)
    );
}

#[test]
fn token_form() {
    let form = Some("application/x-www-form-urlencoded");
    let ok = parse_token_form(
        form,
        b"grant_type=client_credentials&client_id=edge&client_secret=a%2Bb+c",
    )
    .unwrap();
    assert_eq!(ok.client_secret, "a+b c");
    assert_eq!(
        parse_token_form(form, b"grant_type=password&client_id=a&client_secret=b").unwrap_err(),
        ApiError::UnsupportedGrantType
    );
    assert_eq!(
        parse_token_form(form, b"grant_type=client_credentials")
            .unwrap_err()
            .code(),
        "invalid_request"
    );
    assert_eq!(
        parse_token_form(
            form,
            b"grant_type=client_credentials&client_id=a&client_id=b&client_secret=c"
        )
        .unwrap_err()
        .code(),
        "invalid_request"
    );
    assert!(parse_token_form(Some("application/json"), b"{}").is_err());
    assert!(parse_token_form(form, b"grant_type=%zz").is_err());
}

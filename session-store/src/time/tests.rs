use super::*;

#[test]
fn seconds_round_down() {
    assert_eq!(to_seconds(1_999), 1);
    assert_eq!(to_seconds(-1), -1);
}

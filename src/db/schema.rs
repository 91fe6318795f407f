//! Hand-kept diesel schema. Portable types only (see design.md): it must describe the
//! SQLite and the PostgreSQL migrations alike.

diesel::table! {
    areas (id) {
        id -> Integer,
        kind -> Text,
        code -> Text,
        name -> Text,
        parent_id -> Nullable<Integer>,
        prefecture_code -> Text,
        district -> Nullable<Text>,
        secondary_area -> Nullable<Text>,
        contact_desk -> Nullable<Text>,
        sort_order -> Integer,
    }
}

diesel::table! {
    institutions (id) {
        id -> Integer,
        code -> Text,
        prefecture_code -> Text,
        fee_table -> Text,
        category -> Text,
        is_special_function -> Bool,
        is_correctional -> Bool,
        name -> Text,
        name_kana -> Nullable<Text>,
        postcode -> Nullable<Text>,
        address -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        prefecture_id -> Integer,
        jurisdiction_id -> Nullable<Integer>,
        municipality_id -> Nullable<Integer>,
        founder -> Nullable<Text>,
        manager -> Nullable<Text>,
        designated_on -> Nullable<Date>,
        departments -> Nullable<Text>,
        status -> Text,
        paper_report -> Bool,
        target_override -> Nullable<Bool>,
        target_override_reason -> Nullable<Text>,
        is_target -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        short_code -> Text,
        search_key -> Text,
    }
}

diesel::table! {
    imports (id) {
        id -> Integer,
        kind -> Text,
        file_name -> Text,
        layout -> Text,
        prefecture_id -> Integer,
        created_by -> Nullable<Integer>,
        created_at -> Timestamp,
        status -> Text,
        fingerprint -> Text,
        payload -> Text,
        summary -> Text,
        applied_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        login_id -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        area_id -> Nullable<Integer>,
        institution_id -> Nullable<Integer>,
        active -> Bool,
        password_hash -> Text,
        must_change_password -> Bool,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        session_epoch -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Integer,
        at -> Timestamp,
        actor_id -> Nullable<Integer>,
        actor_login -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        prefecture_id -> Nullable<Integer>,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    institution_name_grams (gram, institution_id) {
        gram -> Text,
        institution_id -> Integer,
    }
}

diesel::joinable!(users -> institutions (institution_id));
diesel::joinable!(institution_name_grams -> institutions (institution_id));
diesel::joinable!(users -> areas (area_id));

diesel::allow_tables_to_appear_in_same_query!(
    areas,
    institutions,
    institution_name_grams,
    meta,
    users,
    audit_log,
    imports
);

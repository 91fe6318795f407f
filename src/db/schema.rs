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
    }
}

diesel::table! {
    meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(areas, institutions, meta);

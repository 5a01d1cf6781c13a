-- description: One row per person with their pathway variant: the stages in the order they first started them (serving table for Forløp).
-- unique: person_id
-- not_null: person_id, variant
-- grain: person
with final as (
    select
        person_id,
        string_agg(stage, ' → ' order by first_start, rank) as variant,
        any_value(cohort_year) as cohort_year,
        any_value(settlement_municipality_code) as settlement_municipality_code,
        any_value(sex) as sex,
        any_value(age_group) as age_group,
        any_value(country_background) as country_background,
        any_value(immigration_reason) as immigration_reason,
        any_value(record_key) as record_key
    from dash.person_stage
    group by person_id
)

select * from final

-- description: One row per person seen in any source. Settlement date and municipality come from the person's earliest `bosatt`; sex, birth year, country background and reason for residence from the most recently delivered record that has them (then the latest date, file and row; the Trøndelag model carries none).
-- unique: person_id
-- not_null: person_id
-- grain: person
with people as (
    select distinct person_id from core.event
),

attribute_records as (
    select
        person_id, sex, birth_year, country_background, immigration_reason,
        -- newest delivery, then latest date, file and row: a total order, so a tie never
        -- leaves the choice to the order rows happen to be read in
        (delivery_date, event_date, source_file, source_row::bigint) as recency
    from staging.stg_intro
    union all
    select
        person_id, sex, birth_year, null, null,
        (delivery_date, coalesce(start_date, applied_date), source_file, source_row::bigint)
    from staging.stg_combination_classes
),

attributes as (
    select
        person_id,
        arg_max(sex, recency) filter (where sex is not null) as sex,
        arg_max(birth_year, recency) filter (where birth_year is not null) as birth_year,
        arg_max(country_background, recency) filter (where country_background is not null) as country_background,
        arg_max(immigration_reason, recency) filter (where immigration_reason is not null) as immigration_reason
    from attribute_records
    group by person_id
),

settlement as (
    select
        person_id,
        min(event_date) as settlement_date,
        arg_min(municipality_code, event_date::varchar || municipality_code) as settlement_municipality_code
    from staging.stg_intro
    where event = 'bosatt'
    group by person_id
),

final as (
    select
        p.person_id,
        a.sex,
        a.birth_year,
        a.country_background,
        a.immigration_reason,
        s.settlement_date,
        s.settlement_municipality_code
    from people p
    left join attributes a using (person_id)
    left join settlement s using (person_id)
)

select * from final

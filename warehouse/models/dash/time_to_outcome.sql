-- description: marts.time_to_outcome in whole months (floor of days × 12 / 365.25, the unit the dashboard's Kaplan–Meier curves step in), with the age at settlement (the page counts persons aged 16–67 then: children settled with their families are not on their way to work), the settlement municipality's region and the person's filter attributes and record key: serving table for the Mål page.
-- unique: person_id
-- not_null: person_id, months_to_work, months_to_work_or_education, record_key
-- grain: person
with source as (
    select * from marts.time_to_outcome
),

final as (
    select
        t.person_id,
        t.work_date,
        t.work_or_education_date,
        t.days_to_work,
        t.days_to_work_or_education,
        t.reached_work,
        t.reached_work_or_education,
        floor(t.days_to_work * 12 / 365.25)::integer as months_to_work,
        floor(t.days_to_work_or_education * 12 / 365.25)::integer as months_to_work_or_education,
        year(f.settlement_date) - p.birth_year as age_at_settlement,
        m.region,
        f.* exclude (person_id)
    from source t
    inner join dash.person_filter f using (person_id)
    inner join core.person p using (person_id)
    left join reference.municipality m on f.settlement_municipality_code = m.municipality_code
)

select * from final

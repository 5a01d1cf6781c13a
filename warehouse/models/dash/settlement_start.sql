-- description: marts.settlement_start with the age at settlement (the dashboard counts only persons aged 18–67 then, who have the right and duty to the programme and tuition; children settled with their families have none), with the settlement municipality's name and region, the person's filter attributes, and per kind of start (intro, norwegian) whether the person is still waiting past the three-month deadline on as_of (no start yet and the deadline has passed): serving table for the Mål page.
-- unique: person_id
-- not_null: person_id, settlement_date, record_key
-- grain: person
with source as (
    select * from marts.settlement_start
),

birth as (
    select
        person_id,
        birth_year
    from core.person
),

final as (
    select
        s.*,
        s.intro_start_date is null and s.intro_within_3_months = false as intro_waiting_past_deadline,
        s.norwegian_start_date is null
        and s.norwegian_within_3_months = false as norwegian_waiting_past_deadline,
        year(s.settlement_date) - b.birth_year as age_at_settlement,
        coalesce(m.municipality_name, s.settlement_municipality_code) as municipality_name,
        m.region,
        f.cohort_year,
        f.sex,
        f.age_group,
        f.country_background,
        f.immigration_reason,
        f.record_key
    from source s
    inner join dash.person_filter f on s.person_id = f.person_id
    inner join birth b on s.person_id = b.person_id
    left join reference.municipality m on s.settlement_municipality_code = m.municipality_code
)

select * from final

-- description: marts.settlement_start with the age at settlement (the dashboard counts only persons aged 18–67 then, who have the right and duty to the programme and tuition; children settled with their families have none), with the settlement municipality's name and region, the person's filter attributes, and per kind of start (intro, norwegian) whether the person is still waiting past the three-month deadline on as_of (no start yet and the deadline has passed): serving table for the Mål page.
-- unique: person_id
-- not_null: person_id, settlement_date, record_key
with source as (
    select * from marts.settlement_start
),

final as (
    select
        s.*,
        intro_start_date is null and intro_within_3_months = false as intro_waiting_past_deadline,
        norwegian_start_date is null and norwegian_within_3_months = false as norwegian_waiting_past_deadline,
        year(s.settlement_date) - f.birth_year_at as age_at_settlement,
        coalesce(m.municipality_name, s.settlement_municipality_code) as municipality_name,
        m.region,
        f.* exclude (person_id, settlement_date, settlement_municipality_code, birth_year_at)
    from source s
    join (select pf.*, p.birth_year as birth_year_at
          from dash.person_filter pf join core.person p using (person_id)) f using (person_id)
    left join reference.municipality m on m.municipality_code = s.settlement_municipality_code
)

select * from final

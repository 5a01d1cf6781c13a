-- description: One row per person who has completed a Norwegian course (adult education, level norwegian) by as_of: the highest CEFR level completed, whether it is B1 or above (employers' usual minimum), and the municipality of that course, with the person's filter attributes (serving table for the Mål page). Counted per person, so every figure is a count of persons under the cell-key method.
-- unique: person_id
-- not_null: person_id, cefr_level, b1_or_above, record_key
-- grain: person
with completed as (
    select person_id, end_reason as cefr_level, municipality_code, end_date
    from marts.stage_spell
    where stage = 'norwegian' and end_type = 'completed' and end_reason in ('A1', 'A2', 'B1', 'B2', 'C1')
),

highest as (
    select
        person_id,
        max(cefr_level) as cefr_level,   -- A1 < A2 < B1 < B2 < C1 also as text
        arg_max(municipality_code, (cefr_level, end_date, municipality_code)) as municipality_code
    from completed
    group by person_id
),

final as (
    select
        h.person_id,
        h.cefr_level,
        h.cefr_level >= 'B1' as b1_or_above,
        h.municipality_code,
        coalesce(m.municipality_name, h.municipality_code) as municipality_name,
        f.* exclude (person_id)
    from highest h
    inner join dash.person_filter f using (person_id)
    left join reference.municipality m on h.municipality_code = m.municipality_code
)

select * from final

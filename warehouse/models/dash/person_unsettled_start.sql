-- description: One row per person with no settlement on record, with the first stage they reached on the ladder (serving table for Forløp: the Sankey's start node `unknown_settlement` flows into it, so no flow comes out of nowhere; precomputed because grouping dash.person_stage by person on every page view took most of the page's time at 300 000 persons).
-- unique: person_id
-- not_null: person_id, first_stage, record_key
-- grain: person
with per_person as (
    select person_id, arg_min(stage, rank) as first_stage, bool_or(stage = 'settlement') as settled
    from dash.person_stage
    group by person_id
),

final as (
    select p.person_id, p.first_stage, f.* exclude (person_id)
    from per_person p
    inner join dash.person_filter f using (person_id)
    where not p.settled
)

select * from final

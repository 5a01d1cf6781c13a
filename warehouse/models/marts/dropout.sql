-- description: One row per spell that ended dropped_out: where and when people drop out, after how long, and why.
-- not_null: person_id, stage, source, dropout_date, days_on_stage
-- grain: person
with final as (
    select
        person_id,
        stage,
        source,
        end_date as dropout_date,
        end_date - start_date as days_on_stage,
        end_reason as reason,
        municipality_code
    from marts.stage_spell
    where end_type = 'dropped_out'
)

select * from final
